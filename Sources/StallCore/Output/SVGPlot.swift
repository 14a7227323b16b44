/// One series over time, drawn in its own panel.
public struct PlotPanel: Sendable {
    public var title: String
    public var unit: String
    public var points: [(Double, Double)]
    public init(title: String, unit: String, points: [(Double, Double)]) {
        self.title = title
        self.unit = unit
        self.points = points
    }
}

/// A self-contained SVG: stacked panels on one shared time axis, so a rise in one
/// series can be read against the others at the same moment.
public enum SVGPlot {
    public static func render(title: String, panels: [PlotPanel], width: Int = 900, panelHeight: Int = 130, footnote: String? = nil) -> String {
        let left = 70.0, right = 20.0, top = 40.0, gap = 30.0
        let plotW = Double(width) - left - right
        let h = Double(panelHeight)
        let totalH = Int(top + Double(panels.count) * (h + gap) + (footnote == nil ? 30 : 50))
        let allT = panels.flatMap { $0.points.map(\.0) }
        let t0 = allT.min() ?? 0, t1 = max(allT.max() ?? 1, t0 + 1e-9)
        func x(_ t: Double) -> Double { left + (t - t0) / (t1 - t0) * plotW }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(width)\" height=\"\(totalH)\" viewBox=\"0 0 \(width) \(totalH)\" font-family=\"sans-serif\" font-size=\"11\">\n"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        svg += "<text x=\"\(Int(left))\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(xmlEscape(title))</text>\n"
        let colors = ["#c0392b", "#2471a3", "#1e8449", "#b9770e", "#7d3c98", "#117a65", "#566573"]
        for (i, p) in panels.enumerated() {
            let y0 = top + Double(i) * (h + gap)
            let values = p.points.map(\.1).filter(\.isFinite)
            var lo = min(0, values.min() ?? 0), hi = values.max() ?? 1
            if hi <= lo { hi = lo + 1 }
            func y(_ v: Double) -> Double { y0 + h - (v - lo) / (hi - lo) * h }
            svg += "<text x=\"\(Int(left))\" y=\"\(fmt(y0 - 6))\" font-weight=\"bold\">\(xmlEscape(p.title))\(p.unit.isEmpty ? "" : " (\(xmlEscape(p.unit)))")</text>\n"
            svg += "<rect x=\"\(fmt(left))\" y=\"\(fmt(y0))\" width=\"\(fmt(plotW))\" height=\"\(fmt(h))\" fill=\"none\" stroke=\"#999\"/>\n"
            for k in 0...4 {
                let v = lo + (hi - lo) * Double(k) / 4
                svg += "<line x1=\"\(fmt(left))\" x2=\"\(fmt(left + plotW))\" y1=\"\(fmt(y(v)))\" y2=\"\(fmt(y(v)))\" stroke=\"#eee\"/>"
                svg += "<text x=\"\(fmt(left - 6))\" y=\"\(fmt(y(v) + 4))\" text-anchor=\"end\">\(xmlEscape(shortNumber(v)))</text>\n"
            }
            let pts = p.points.filter { $0.1.isFinite }.map { "\(fmt(x($0.0))),\(fmt(y($0.1)))" }.joined(separator: " ")
            if !pts.isEmpty {
                svg += "<polyline fill=\"none\" stroke=\"\(colors[i % colors.count])\" stroke-width=\"1.8\" points=\"\(pts)\"/>\n"
            } else {
                svg += "<text x=\"\(fmt(left + plotW / 2))\" y=\"\(fmt(y0 + h / 2))\" text-anchor=\"middle\" fill=\"#999\">no data</text>\n"
            }
        }
        let axisY = top + Double(panels.count) * (h + gap) - gap + 16
        for k in 0...5 {
            let t = t0 + (t1 - t0) * Double(k) / 5
            svg += "<text x=\"\(fmt(x(t)))\" y=\"\(fmt(axisY))\" text-anchor=\"middle\">\(xmlEscape(shortNumber(t))) s</text>\n"
        }
        if let footnote {
            svg += "<text x=\"\(Int(left))\" y=\"\(fmt(axisY + 20))\" fill=\"#666\">\(xmlEscape(footnote))</text>\n"
        }
        return svg + "</svg>\n"
    }

    static func fmt(_ d: Double) -> String { cFormat("%.1f", d) }

    static func shortNumber(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1e9 { return cFormat("%.1fG", v / 1e9) }
        if a >= 1e6 { return cFormat("%.1fM", v / 1e6) }
        if a >= 1e3 { return cFormat("%.1fk", v / 1e3) }
        if a >= 10 || a == 0 { return cFormat("%.0f", v) }
        return cFormat("%.3g", v)
    }

    static func xmlEscape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "&": out += "&amp;"
            case "\"": out += "&quot;"
            default: out.append(c)
            }
        }
        return out
    }
}
