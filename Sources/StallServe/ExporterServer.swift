import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import StallCore

/// The exporter's HTTP/1.1 server on swift-nio: GET (and HEAD) `/metrics`, `/healthz`, `/`;
/// read-only, bounded:
/// - request heads past `maxHeaderBytes` (or 64 fields) are refused with 431, malformed
///   requests with 400, a body with 413, other methods with 405, other paths with 404;
/// - a connection over `maxConnections` is answered 503 and closed;
/// - a client that does not finish a request head within `requestTimeout` of connecting
///   (or of its last response) gets 408 and is closed (slow or idle clients hold nothing).
public final class ExporterServer {
    public struct Limits: Sendable {
        public var maxConnections = 64
        public var maxHeaderBytes = 16 * 1024
        public var requestTimeout = TimeAmount.seconds(10)
        public init() {}
    }

    public enum Failure: Error, CustomStringConvertible {
        case bind(String, Int, String)
        public var description: String {
            switch self {
            case .bind(let host, let port, let why): return "cannot listen on \(host):\(port): \(why)"
            }
        }
    }

    private let group: MultiThreadedEventLoopGroup
    private let channel: Channel
    /// The port bound (the one asked, or the kernel's choice for port 0).
    public let port: Int

    public init(host: String, port: Int, store: MetricsStore, limits: Limits = Limits(),
                monotonicNs: @escaping @Sendable () -> UInt64) throws {
        // One thread: a scrape is a memory copy; the counting loop has its own thread.
        group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let connections = NIOLockedValueBox(0)
        var decoderLimits = NIOHTTPDecoderLimitConfiguration()
        decoderLimits.maxHeaderFieldSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderListSize = limits.maxHeaderBytes
        decoderLimits.maxHeaderFieldCount = 64
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(ChannelOptions.backlog, value: 128)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(ChannelOptions.maxMessagesPerRead, value: 4)
            .childChannelInitializer { channel in
                let admitted = connections.withLockedValue { n -> Bool in
                    guard n < limits.maxConnections else { return false }
                    n += 1
                    return true
                }
                guard admitted else {
                    return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(RefuseWhenFull()) }
                }
                channel.closeFuture.whenComplete { _ in connections.withLockedValue { $0 -= 1 } }
                return channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withErrorHandling: false, withOutboundHeaderValidation: true,
                        withEncoderConfiguration: .init(), withDecoderLimitConfiguration: decoderLimits)
                    try channel.pipeline.syncOperations.addHandler(
                        ExporterHTTPHandler(store: store, requestTimeout: limits.requestTimeout, monotonicNs: monotonicNs))
                }
            }
        do {
            channel = try bootstrap.bind(host: host, port: port).wait()
        } catch {
            try? group.syncShutdownGracefully()
            throw Failure.bind(host, port, "\(error)")
        }
        self.port = channel.localAddress?.port ?? port
    }

    /// Stops listening, closes open connections and the event loop.
    public func shutdown() {
        try? channel.close().wait()
        try? group.syncShutdownGracefully()
    }
}

/// A connection past the limit: answered 503 as soon as it is up, before its request is
/// read, and closed.
final class RefuseWhenFull: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    func channelActive(context: ChannelHandlerContext) {
        var b = context.channel.allocator.buffer(capacity: 128)
        b.writeString("HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 32\r\nRetry-After: 1\r\nConnection: close\r\n\r\ntoo many connections; try again\n")
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(b)).whenComplete { _ in loopContext.value.close(promise: nil) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {}
}

/// One connection's requests, answered from the store.
final class ExporterHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let store: MetricsStore
    private let requestTimeout: TimeAmount
    private let monotonicNs: @Sendable () -> UInt64
    private var head: HTTPRequestHead? = nil
    private var bodyBytes = 0
    private var deadline: Scheduled<Void>? = nil
    /// Bodies are not expected; this many bytes are read and dropped before 413.
    private let maxBodyBytes = 1024

    init(store: MetricsStore, requestTimeout: TimeAmount, monotonicNs: @escaping @Sendable () -> UInt64) {
        self.store = store
        self.requestTimeout = requestTimeout
        self.monotonicNs = monotonicNs
    }

    func handlerAdded(context: ChannelHandlerContext) { armDeadline(context) }
    func handlerRemoved(context: ChannelHandlerContext) { deadline?.cancel() }

    private func armDeadline(_ context: ChannelHandlerContext) {
        deadline?.cancel()
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        deadline = context.eventLoop.scheduleTask(in: requestTimeout) { [weak self] in
            guard let self, self.head == nil else { return }
            self.respondAndClose(loopContext.value, status: .requestTimeout, body: "no complete request within the time allowed\n")
        }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            deadline?.cancel()
            head = h
            bodyBytes = 0
        case .body(let b):
            bodyBytes += b.readableBytes
            if bodyBytes > maxBodyBytes, head != nil {
                head = nil
                respondAndClose(context, status: .payloadTooLarge, body: "this server takes no request bodies\n")
            }
        case .end:
            guard let h = head else { return }
            head = nil
            respond(context, to: h)
            // Requests are answered as they end, in order, so pipelined requests need no
            // queue here; a client that sends without reading stops being read once its
            // unread answers fill the socket's buffers (no memory grows for it).
            if !context.channel.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: false).whenComplete { _ in } }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { context.channel.setOption(ChannelOptions.autoRead, value: true).whenComplete { _ in } }
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        if let parser = error as? HTTPParserError {
            // A request the decoder could not read: answered, then the connection closes
            // (its byte stream cannot be trusted to continue).
            switch parser {
            case .headerOverflow: respondAndClose(context, status: .init(statusCode: 431, reasonPhrase: "Request Header Fields Too Large"),
                                                  body: "request head too large\n")
            default: respondAndClose(context, status: .badRequest, body: "malformed request\n")
            }
        } else {
            context.close(promise: nil)
        }
    }

    private func respond(_ context: ChannelHandlerContext, to request: HTTPRequestHead) {
        let path = request.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? request.uri
        let isHead = request.method == .HEAD
        guard request.method == .GET || isHead else {
            send(context, request, status: .methodNotAllowed, extra: [("Allow", "GET, HEAD")], body: Array("only GET and HEAD: this exporter is read-only\n".utf8))
            return
        }
        if bodyBytes > 0 {
            send(context, request, status: .payloadTooLarge, body: Array("this server takes no request bodies\n".utf8))
            return
        }
        switch path {
        case "/metrics":
            let format = ExpositionFormat.negotiate(accept: request.headers["Accept"].isEmpty ? nil : request.headers["Accept"].joined(separator: ","))
            guard let p = store.body(format) else {
                send(context, request, status: .serviceUnavailable, extra: [("Retry-After", "1")], body: Array("the first counting window has not ended yet\n".utf8))
                return
            }
            send(context, request, status: .ok, contentType: format.contentType, body: p.body)
        case "/healthz":
            let last = store.lastPublicationNs
            if let last, monotonicNs() &- last <= store.staleAfterNs {
                send(context, request, status: .ok, body: Array("ok\n".utf8))
            } else {
                let why = last == nil ? "no counting window has ended yet\n" : "the counting loop has published nothing recently\n"
                send(context, request, status: .serviceUnavailable, body: Array(why.utf8))
            }
        case "/":
            send(context, request, status: .ok, contentType: "text/html; charset=utf-8", body: Array(ExporterHTTPHandler.indexPage.utf8))
        default:
            send(context, request, status: .notFound, body: Array("not found: try /metrics, /healthz or /\n".utf8))
        }
    }

    static let indexPage = """
        <!doctype html>
        <html><head><title>stallstat exporter</title></head><body>
        <h1>stallstat exporter</h1>
        <ul>
        <li><a href="/metrics">/metrics</a>: stall, counter and memory-fragmentation metrics (Prometheus text format or OpenMetrics, by Accept)</li>
        <li><a href="/healthz">/healthz</a>: 200 while the counting loop publishes</li>
        </ul>
        </body></html>

        """

    private func send(_ context: ChannelHandlerContext, _ request: HTTPRequestHead, status: HTTPResponseStatus,
                      contentType: String = "text/plain; charset=utf-8", extra: [(String, String)] = [], body: [UInt8]) {
        var headers = HTTPHeaders([("Content-Type", contentType), ("Content-Length", String(body.count))] + extra)
        let keepAlive = request.isKeepAlive
        headers.add(name: "Connection", value: keepAlive ? "keep-alive" : "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: request.version, status: status, headers: headers))), promise: nil)
        if request.method != .HEAD {
            var buffer = context.channel.allocator.buffer(capacity: body.count)
            buffer.writeBytes(body)
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        }
        if keepAlive {
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            armDeadline(context)
        } else {
            let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
            context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopContext.value.close(promise: nil) }
        }
    }

    private func respondAndClose(_ context: ChannelHandlerContext, status: HTTPResponseStatus, body: String) {
        deadline?.cancel()
        let bytes = Array(body.utf8)
        let headers = HTTPHeaders([("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", String(bytes.count)), ("Connection", "close")])
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        var buffer = context.channel.allocator.buffer(capacity: bytes.count)
        buffer.writeBytes(bytes)
        context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        let loopContext = NIOLoopBound(context, eventLoop: context.eventLoop)
        context.writeAndFlush(wrapOutboundOut(.end(nil))).whenComplete { _ in loopContext.value.close(promise: nil) }
    }
}
