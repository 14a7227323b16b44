#!/usr/bin/env python3
"""Generates the Arm event tables from the upstream data (run by a maintainer, not by the build).

    EventTables/import.py --kernel LINUX/tools/perf/pmu-events/arch --arm-data DIR [--arm-extra TSV ...]

Inputs, in order of precedence:
  1. the kernel's pmu-events tree (Debian's linux-source-6.12; EventTables/fetch-kernel-pmu-events.sh
     puts it in /var/cache/stallstat-pmu-events/arch):
     arm64/mapfile.csv (MIDR → directory), arm64/common-and-microarch.json and
     recommended.json (the architected and recommended events), each core's JSON;
  2. Arm's own per-core data (ARM-software/data, pmu/*.json and cpus.json) for the cores
     the kernel has no directory for, and for events of a kernel core the kernel's file
     leaves out (Arm's data is what the kernel's files are generated from);
  3. `--arm-extra` transcriptions (code, name, present/absent) for cores newer than both.

Also every x86 model of the kernel's x86/mapfile.csv the hand tables lack (core events;
see import_x86 for what is left out).

Writes arm/common.json, arm/<core>/events.json for every core (one directory per core, so
each core's hand-kept metrics.json can sit beside it) and the Arm entries of cpus.json.
Hand-kept knowledge stays in overlays/ and is merged in: portable names
(overlays/arm-portable.json), aliases, slots and the x86 models (overlays/cpus.json).
Every event says where it came from ("Source"); IMPORTED.md lists the inputs. Run
EventTables/embed.py afterwards to refresh the copy in the binary.
"""
import argparse
import collections
import csv
import json
import os
import re
import sys

here = os.path.dirname(os.path.abspath(__file__))


def load_json(path):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def code_of(text):
    return int(str(text), 16) if str(text).lower().startswith("0x") else int(str(text), 0)


def core_name(arm_name):
    """Arm's 'Cortex-A57' / 'Neoverse-N1' → the table name 'cortex-a57' / 'neoverse-n1'."""
    return arm_name.lower().replace(" ", "-")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--kernel", required=True, help="tools/perf/pmu-events/arch of a kernel source tree")
    ap.add_argument("--kernel-version", default="", help="the kernel's version, recorded in every Source (default: read from the tree's Makefile)")
    ap.add_argument("--arm-data", required=True, help="ARM-software/data pmu/ directory")
    ap.add_argument("--arm-data-version", default="ARM-software/data", help="the Arm data's origin, recorded in every Source")
    ap.add_argument("--arm-extra", action="append", default=[], help="a transcription TSV (code, name, status) named <core>.subset.tsv")
    ap.add_argument("--kernel-extra-common", action="append", default=[], help="a transcription TSV (code, name) of a newer kernel's common-and-microarch.json")
    args = ap.parse_args()

    arm64 = os.path.join(args.kernel, "arm64")
    kver = args.kernel_version or kernel_version(args.kernel)
    ksrc = f"linux-{kver}" if kver else "linux"
    overlay_dir = os.path.join(here, "overlays")
    portable = load_json(os.path.join(overlay_dir, "arm-portable.json"))
    cpu_overlay = load_json(os.path.join(overlay_dir, "cpus.json"))

    # ---- the architected and recommended events (the kernel's ArchStdEvent targets)
    common = {}
    for f in ["common-and-microarch.json", "recommended.json"]:
        for e in load_json(os.path.join(arm64, f)):
            if "EventCode" not in e or "EventName" not in e:
                continue
            common[e["EventName"]] = {"EventCode": "0x%04x" % code_of(e["EventCode"]), "EventName": e["EventName"],
                                      "BriefDescription": e.get("BriefDescription", e.get("PublicDescription", "")).strip(),
                                      "Source": f"{ksrc}:arm64/{f}"}
    # Arm's definitions of the common events (the Arm ARM's list) for the ones no kernel
    # list has yet: the 0x81xx stall and TLB families of newer cores.
    for f in ["common_armv9.json", "common_armv8.json"]:
        path = os.path.join(args.arm_data, f)
        if not os.path.exists(path):
            continue
        for e in load_json(path)["events"]:
            if "name" not in e or "code" not in e or int(e["code"]) > 0xFFFF or e["name"] in common:
                continue
            if int(e["code"]) in {code_of(x["EventCode"]) for x in common.values()}:
                continue
            common[e["name"]] = {"EventCode": "0x%04x" % int(e["code"]), "EventName": e["name"],
                                 "BriefDescription": (e.get("description") or "").strip().split(". ")[0],
                                 "Source": f"{args.arm_data_version}:{f}"}
    # A newer kernel's common list, transcribed (codes Debian's 6.12 predates).
    for tsv in args.kernel_extra_common:
        origin = os.path.basename(tsv)
        for line in open(tsv, encoding="utf-8"):
            f = line.rstrip("\n").split("\t")
            if line.startswith("#") or len(f) < 2 or not f[0].startswith("0x") or f[1] in common:
                continue
            if code_of(f[0]) in {code_of(x["EventCode"]) for x in common.values()}:
                continue
            common[f[1]] = {"EventCode": "0x%04x" % code_of(f[0]), "EventName": f[1], "BriefDescription": "",
                            "Source": f"transcription:{origin}"}
    common_codes = {code_of(e["EventCode"]): n for n, e in common.items()}

    # ---- Arm's per-core data
    arm_cpus = {}
    for c in load_json(os.path.join(args.arm_data, "cpus.json"))["cpus"]:
        cpuid = code_of(c["cpuid"])
        arm_cpus[(c["implementer"], cpuid & 0xFFF)] = c
    arm_files = {}
    for n in sorted(os.listdir(args.arm_data)):
        if not n.endswith(".json") or n in ("cpus.json", "pmu-schema.json") or n.startswith("common_"):
            continue
        d = load_json(os.path.join(args.arm_data, n))
        if "events" not in d or "cpuid" not in d:
            continue
        arch = str(d.get("architecture", ""))
        if not (arch.startswith("armv8") or arch.startswith("armv9")) or "-r" in arch.lower():
            continue   # 32-bit-only and R-profile cores: no arm64 Linux
        cpuid = code_of(d["cpuid"])
        arm_files[(cpuid >> 12 & 0xFF, cpuid & 0xFFF)] = (n, d)

    def from_arm(n, d, events, have_codes, have_names):
        """Adds the events of Arm's file `n` that the list lacks (by code and by name)."""
        for e in d["events"]:
            if "name" not in e or "code" not in e:
                continue
            code, name = int(e["code"]), e["name"]
            if code in have_codes or name in have_names:
                continue
            brief = (e.get("description") or "").strip().split(". ")[0]
            # The recommended events (0x40-0xBF) are IMPLEMENTATION DEFINED in Arm's data but
            # the kernel lists them as architected: a common name with its code is the common event.
            if name in common and code_of(common[name]["EventCode"]) == code:
                events.append({"ArchStdEvent": name, "Source": f"{args.arm_data_version}:{n}"})
            elif not e.get("impdef") and code not in common_codes and code <= 0xFFFF:
                # Architected, but in neither kernel list: joins common.json with Arm's name.
                common[name] = {"EventCode": "0x%04x" % code, "EventName": name, "BriefDescription": brief,
                                "Source": f"{args.arm_data_version}:{n}"}
                common_codes[code] = name
                events.append({"ArchStdEvent": name, "Source": f"{args.arm_data_version}:{n}"})
            else:
                events.append({"EventCode": "0x%04x" % code, "EventName": name, "BriefDescription": brief,
                               "Source": f"{args.arm_data_version}:{n}"})
            have_codes.add(code)
            have_names.add(name)

    def codes_and_names(events):
        codes, names = set(), set()
        for e in events:
            name = e.get("ArchStdEvent") or e.get("EventName")
            names.add(name)
            if "ArchStdEvent" in e and name in common:
                codes.add(code_of(common[name]["EventCode"]))
            elif "EventCode" in e:
                codes.add(code_of(e["EventCode"]))
        return codes, names

    # ---- the kernel's cores (mapfile: MIDR without variant/revision → directory)
    cores = {}   # name → {"implementer", "parts", "events", "sources"}
    rows = core_rows(os.path.join(arm64, "mapfile.csv"))
    arm_names = {core_name(c["name"]) for c in arm_cpus.values()}
    for midr_text, _, directory, _ in rows:
        midr = code_of(midr_text)
        implementer, part = midr >> 24 & 0xFF, midr >> 4 & 0xFFF
        arm_cpu = arm_cpus.get((implementer, part))
        base = directory.split("/")[-1]
        name = core_name(arm_cpu["name"]) if arm_cpu else base
        # The kernel maps a few parts to another core's directory (A78C → cortex-a78,
        # X1C → cortex-x1): perf uses that core's events, so the part joins that core.
        if name != base and base in arm_names:
            name = base
        if name in cores and cores[name]["implementer"] != implementer:
            name = f"{name}-imp{implementer:02x}"   # another vendor's core on the same design (Broadcom's B53)
        cores.setdefault(name, {"implementer": implementer, "parts": [], "events": None, "dir": directory})["parts"].append(part)
    for name, core in cores.items():
        events = []
        kdir = os.path.join(arm64, core["dir"])
        for fname in sorted(os.listdir(kdir)):
            if not fname.endswith(".json") or fname == "metrics.json":
                continue
            for e in load_json(os.path.join(kdir, fname)):
                src = f"{ksrc}:arm64/{core['dir']}/{fname}"
                if "ArchStdEvent" in e:
                    if e["ArchStdEvent"] not in common:
                        continue   # an sbsa metric or a name the kernel resolves elsewhere
                    item = {"ArchStdEvent": e["ArchStdEvent"], "Source": src}
                    if e.get("BriefDescription"):
                        item["BriefDescription"] = e["BriefDescription"].strip()
                    events.append(item)
                elif "EventCode" in e and "EventName" in e:
                    events.append({"EventCode": "0x%04x" % code_of(e["EventCode"]), "EventName": e["EventName"],
                                   "BriefDescription": e.get("BriefDescription", e.get("PublicDescription", "")).strip(), "Source": src})
        codes, names = codes_and_names(events)
        if core["implementer"] == 0x41:
            for part in core["parts"]:
                if (0x41, part) in arm_files:
                    n, d = arm_files[(0x41, part)]
                    from_arm(n, d, events, codes, names)
                    break
        core["events"] = events

    # ---- cores only Arm's data has
    kernel_parts = {(c["implementer"], p) for c in cores.values() for p in c["parts"]}
    for (implementer, part), (n, d) in sorted(arm_files.items()):
        if (implementer, part) in kernel_parts:
            continue
        arm_cpu = arm_cpus.get((implementer, part))
        name = core_name(arm_cpu["name"]) if arm_cpu else n[:-5]
        events = []
        codes, names = set(), set()
        from_arm(n, d, events, codes, names)
        cores[name] = {"implementer": implementer, "parts": [part], "events": events, "dir": None}

    # ---- transcriptions for cores newer than both sources
    for tsv in args.arm_extra:
        name = os.path.basename(tsv).split(".")[0]
        origin = open(tsv, encoding="utf-8").readline().lstrip("# ").strip()
        events = []
        part = None
        for line in open(tsv, encoding="utf-8"):
            m = re.search(r"cpuid (0x[0-9a-fA-F]+)", line)
            if line.startswith("#") and m:
                part = code_of(m.group(1)) & 0xFFF
            f = line.rstrip("\n").split("\t")
            if line.startswith("#") or len(f) < 3 or f[2] != "present":
                continue
            code, ename = code_of(f[0]), f[1]
            src = f"transcription:{os.path.relpath(tsv, os.path.join(here, '..', '..'))}"
            if ename in common:
                events.append({"ArchStdEvent": ename, "Source": src})
            else:
                events.append({"EventCode": "0x%04x" % code, "EventName": ename, "BriefDescription": "", "Source": src})
        if name in cores:
            have = codes_and_names(cores[name]["events"])
            cores[name]["events"] += [e for e in events if (e.get("ArchStdEvent") or e.get("EventName")) not in have[1]]
        else:
            cores[name] = {"implementer": 0x41, "parts": [part] if part is not None else [], "events": events, "dir": None}

    # ---- events a newer source than the inputs lists for a core (overlays/arm-additions.json:
    # core → {event: citation}); each must be a common event.
    for name, added in load_json(os.path.join(overlay_dir, "arm-additions.json")).items():
        if name not in cores:
            sys.exit(f"import: overlays/arm-additions.json names the core {name}, which no source has")
        have = codes_and_names(cores[name]["events"])[1]
        for event, citation in added.items():
            if event not in common:
                sys.exit(f"import: overlays/arm-additions.json adds {event} to {name}: not a common event")
            if event not in have:
                cores[name]["events"].append({"ArchStdEvent": event, "Source": f"overlay:{citation}"})

    # ---- write
    for name, extra in portable.items():
        if name in common:
            common[name]["Portable"] = extra
        else:
            sys.exit(f"import: overlays/arm-portable.json names {name}, which no source defines")
    write(os.path.join(here, "arm", "common.json"), sorted(common.values(), key=lambda e: code_of(e["EventCode"])))
    overlay_by_name = {c["Name"]: c for c in cpu_overlay}
    cpus = []
    for name in sorted(cores):
        core = cores[name]
        if not core["events"]:
            continue
        os.makedirs(os.path.join(here, "arm", name), exist_ok=True)
        write(os.path.join(here, "arm", name, "events.json"), core["events"])
        entry = {"Name": name, "Vendor": "arm", "Implementer": "0x%02x" % core["implementer"],
                 "Parts": ["0x%03x" % p for p in sorted(set(core["parts"]))], "Directory": f"arm/{name}"}
        for k, v in overlay_by_name.get(name, {}).items():
            if k not in entry:
                entry[k] = v
        cpus.append(entry)
    # x86: the hand-kept models first (their Libpfm4 names, portable names and metrics),
    # then every other model of the kernel's mapfile, in its order.
    cpus += [c for c in cpu_overlay if c.get("Vendor") != "arm"]
    hand = {"skylake": "skylake", "icelake": "icelake", "sapphirerapids": "sapphirerapids",
            "amdzen2": "zen2", "amdzen3": "zen3", "amdzen4": "zen4"}
    x86_cpus, x86_skipped, x86_written = import_x86(args.kernel, ksrc, hand, cpu_overlay)
    cpus += x86_cpus
    kernel_metrics = import_metrics(args.kernel, ksrc, cores, hand)
    write(os.path.join(here, "cpus.json"), cpus)
    with open(os.path.join(here, "IMPORTED.md"), "w", encoding="utf-8") as f:
        f.write("# What EventTables/import.py read (generated)\n\n")
        f.write(f"- Kernel: `{ksrc}` tools/perf/pmu-events/arch/arm64 ({len([c for c in cores.values() if c['dir']])} cores in its mapfile)\n")
        f.write(f"- Arm data: `{args.arm_data_version}`\n")
        for tsv in args.arm_extra:
            f.write(f"- Transcription: `{os.path.basename(tsv)}`\n")
        f.write(f"\n{len([c for c in cpus if c['Vendor'] == 'arm'])} Arm cores, {len(common)} architected/recommended events.\n\n")
        def own_metrics(directory):
            path = os.path.join(here, directory, "metrics.json")
            return len(load_json(path)) if os.path.exists(path) else 0
        shared = len(load_json(os.path.join(here, "arm", "metrics.json")))
        f.write(f"Metrics: every Arm core evaluates the shared stall tree and TLB metrics of arm/metrics.json ({shared}, hand-kept: "
                "a node whose events the core lacks is left out), plus its own metrics.json where there is one (hand-kept), "
                "and the kernel's metrics for the core (kernel-metrics.json, `-M NAME` or `-M GROUP`).\n\n")
        f.write("| core | parts | events | hand-kept metrics | kernel metrics | from |\n|---|---|---|---|---|---|\n")
        for c in cpus:
            if c["Vendor"] != "arm":
                continue
            evs = cores[c["Name"]]["events"]
            srcs = sorted({e["Source"].split(":")[0] for e in evs})
            f.write(f"| {c['Name']} | {', '.join(c['Parts'])} | {len(evs)} | {own_metrics(c['Directory'])} | {len(kernel_metrics.get(c['Directory'], []))} | {', '.join(srcs)} |\n")
        f.write(f"\n## x86 (kernel `{ksrc}` tools/perf/pmu-events/arch/x86)\n\n")
        f.write("Hand-kept (Libpfm4 names, portable names, metrics in their events.json and metrics.json), with the kernel's other events in imported.json: "
                + ", ".join(f"{n} ({len(x86_written.get(n, []))})" for n in sorted(hand.values())) + ".\n")
        f.write("Left out of the import (events): " + ", ".join(f"{why} {n}" for why, n in sorted(x86_skipped.items())) + ".\n\n")
        f.write("Every model has the kernel's metrics (kernel-metrics.json: Intel's TMA, AMD's pipeline metrics; `-M NAME` or `-M GROUP`); "
                "the stall tree is hand-kept for six: " + ", ".join(f"{n} ({own_metrics('x86/' + n)})" for n in sorted(hand.values())) + ".\n\n")
        f.write("| model | vendor | family | models | events | kernel metrics | PMU |\n|---|---|---|---|---|---|---|\n")
        for c in [c for c in cpus if c["Vendor"] != "arm"]:
            f.write(f"| {c['Name']} | {c['Vendor']} | {c['Family']} | {', '.join(c['Models'])} | {len(x86_written[c['Name']])} | "
                    f"{len(kernel_metrics.get(c['Directory'], []))} | {c.get('Pmu', 'cpu')} |\n")
    print(f"{len(cpus)} CPU models, {len(common)} common events", file=sys.stderr)


# ---------------------------------------------------------------- x86
X86_VENDORS = {"GenuineIntel": "intel", "AuthenticAMD": "amd"}


def x86_models(pattern):
    """The (vendor, family, models, steppings) a kernel mapfile pattern matches, as perf
    matches its cpuid string `Vendor-Family-MODEL[-STEPPING]` (family decimal, model %X).
    Rows are kept in the mapfile's order and the first model that matches wins, as in perf.
    `steppings`: those a stepping-qualified row matches (Skylake-X `GenuineIntel-6-55-[01234]`
    and Cascade Lake-X share model 0x55), [] when the row matches every stepping."""
    vendor, family = pattern.split("-")[0], None
    m = re.match(r"^(GenuineIntel|AuthenticAMD)-(\d+)-", pattern)
    if not m:
        return None, None, [], []
    vendor, family = m.group(1), int(m.group(2))
    regex = pattern.replace("[[:xdigit:]]", "[0-9A-Fa-f]")
    models, steppings, every_stepping = [], set(), False
    for model in range(256):
        plain = re.fullmatch(regex, f"{vendor}-{family}-{model:X}") is not None
        stepped = [s for s in range(16) if re.fullmatch(regex, f"{vendor}-{family}-{model:X}-{s:X}")]
        if plain or stepped:
            models.append(model)
            every_stepping |= plain
            steppings.update(stepped)
    return X86_VENDORS[vendor], family, models, [] if every_stepping else sorted(steppings)


def ranges(models):
    out = []
    for m in models:
        if out and out[-1][1] == m - 1:
            out[-1][1] = m
        else:
            out.append([m, m])
    return ["0x%02x" % a if a == b else "0x%02x-0x%02x" % (a, b) for a, b in out]


CONFIG1_MSRS = {"0x1a6", "0x1a7", "0x1a6,0x1a7", "0x3f6", "0x3f7"}


def import_x86(arch, ksrc, hand, cpu_overlay):
    """Core events of every x86 model of the kernel's mapfile the hand tables do not have
    (`hand`: kernel directory → hand-kept model name). Left out, and said in IMPORTED.md:
    events needing an MSR other than offcore response, load latency and frontend (those go
    to config1), events of several codes, uncore and data-fabric units. Deprecated events
    are kept and marked (perf still opens them; its `perf list` hides them), and AnyThread
    events carry their `any` bit (config:21), as perf's jevents composes them. Hybrid models
    give one model per core type (`alderlake` = cpu_core, `alderlake-atom` = cpu_atom)."""
    x86 = os.path.join(arch, "x86")
    rows = core_rows(os.path.join(x86, "mapfile.csv"))
    hand_by_name = {c["Name"]: c for c in cpu_overlay if c.get("Vendor") != "arm"}
    bases = {c["Name"]: c for c in load_json(os.path.join(here, "overlays", "x86-bases.json"))}
    cpus, skipped, written = [], collections.Counter(), {}
    for pattern, version, directory, _ in rows:
        vendor, family, models, steppings = x86_models(pattern)
        if vendor is None:
            continue
        hand_name = hand.get(directory)
        by_unit = collections.defaultdict(list)
        for fname in sorted(os.listdir(os.path.join(x86, directory))):
            if not fname.endswith(".json") or fname.startswith("uncore") or "metric" in fname:
                continue
            src = f"{ksrc}:x86/{directory}/{fname}"
            for e in load_json(os.path.join(x86, directory, fname)):
                # Fixed-counter events (INST_RETIRED.ANY, CPU_CLK_UNHALTED.THREAD, TOPDOWN.SLOTS)
                # give no EventCode: perf's jevents composes them as event=0 with their
                # UMask, the kernel's pseudo-encoding of fixed counter UMask-1.
                fixed = "EventCode" not in e and str(e.get("Counter", "")).startswith("Fixed counter")
                if "EventName" not in e or ("EventCode" not in e and not fixed):
                    continue
                why = None
                msr = str(e.get("MSRIndex", "0")).lower().replace(" ", "")
                if "," in str(e.get("EventCode", "")) and msr not in CONFIG1_MSRS:
                    why = "several codes"
                elif msr not in ("0", "0x0", "0x00") and msr not in CONFIG1_MSRS:
                    why = "an MSR (config1)"
                elif e.get("Unit") not in (None, "cpu_core", "cpu_atom"):
                    why = "unit " + e["Unit"]
                if why:
                    skipped[why] += 1
                    continue
                # Offcore response (0x1a6/0x1a7), load latency (0x3f6) and frontend (0x3f7)
                # events carry their MSR value in config1, as perf's offcore_rsp=, ldlat= and
                # frontend= terms do; of an offcore pair's two codes perf opens the first.
                item = {"EventName": e["EventName"], "EventCode": str(e.get("EventCode", "0x00")).split(",")[0]}
                if msr in CONFIG1_MSRS:
                    item["MSRValue"] = e.get("MSRValue", "0x0")
                for k in ("UMask", "CounterMask", "Invert", "EdgeDetect", "AnyThread", "Deprecated"):
                    if str(e.get(k, "0")) not in ("0", "0x0", "0x00", ""):
                        item[k] = e[k]
                item["BriefDescription"] = (e.get("BriefDescription") or "").strip()
                item["Source"] = src
                by_unit[e.get("Unit")].append(item)
        if hand_name:
            # A hand-kept model (Libpfm4 names, portable names, metrics; overlays/cpus.json)
            # also takes every kernel event its own file does not name: the kernel's names
            # are accepted beside the hand file's (ls_l1_d_tlb_miss.all on Zen 3).
            own = {e.get("EventName") for e in load_json(os.path.join(here, "x86", hand_name, "events.json"))}
            extra = [e for e in by_unit.get(None, []) + by_unit.get("cpu_core", []) if e["EventName"] not in own]
            write(os.path.join(here, "x86", hand_name, "imported.json"), extra)
            written[hand_name] = extra
            continue
        base = "zen" + directory[len("amdzen"):] if directory.startswith("amdzen") else directory
        units = sorted(by_unit, key=lambda u: (u != "cpu_core", u or ""))
        for unit in units:
            name = base if unit in (None, "cpu_core") else f"{base}-atom"
            written[name] = by_unit[unit]
            entry = {"Name": name, "Vendor": vendor, "Family": family, "Models": ranges(models), "Directory": f"x86/{name}"}
            if steppings:
                entry["Steppings"] = ranges(steppings)
            if unit:
                entry["Pmu"] = unit
            # overlays/x86-bases.json: the hand-kept model whose tree and portable names this
            # one takes (Skylake-X and Cascade Lake-X: skylake; Ice Lake-X: icelake).
            for k, v in {**hand_by_name.get(name, {}), **bases.get(name, {})}.items():
                entry.setdefault(k, v)
            cpus.append(entry)
    for name, events in written.items():
        if name in hand.values():
            continue
        os.makedirs(os.path.join(here, "x86", name), exist_ok=True)
        write(os.path.join(here, "x86", name, "events.json"), events)
    return cpus, skipped, written


METRIC_FIELDS = ("MetricName", "MetricExpr", "MetricGroup", "ScaleUnit", "MetricThreshold", "MetricConstraint",
                 "DefaultMetricgroupName", "BriefDescription")


def import_metrics(arch, ksrc, cores, hand):
    """The kernel's metrics, wholesale, into <table directory>/kernel-metrics.json: for Arm,
    each core's own metrics and the sbsa.json metrics its files name by ArchStdEvent (with
    the core's overrides: Neoverse N2's revision-gated frontend_bound); for x86, Intel's
    TMA (*-metrics.json, per core type on hybrids by Unit) and AMD's pipeline and
    recommended metrics. Returns table directory → metrics."""
    def slim(m, src):
        item = {k: (m[k].strip() if isinstance(m[k], str) else m[k]) for k in METRIC_FIELDS if k in m}
        item["Source"] = src
        return item
    out = collections.defaultdict(list)
    arm64 = os.path.join(arch, "arm64")
    sbsa = {m["MetricName"]: m for m in load_json(os.path.join(arm64, "sbsa.json")) if "MetricName" in m}
    for name, core in sorted(cores.items()):
        if not core["dir"] or not core["events"]:
            continue
        kdir = os.path.join(arm64, core["dir"])
        for fname in sorted(os.listdir(kdir)):
            if not fname.endswith(".json"):
                continue
            src = f"{ksrc}:arm64/{core['dir']}/{fname}"
            for m in load_json(os.path.join(kdir, fname)):
                if "MetricName" in m:
                    out[f"arm/{name}"].append(slim(m, src))
                elif m.get("ArchStdEvent") in sbsa:
                    merged = dict(sbsa[m["ArchStdEvent"]])
                    merged.update({k: v for k, v in m.items() if k != "ArchStdEvent"})
                    out[f"arm/{name}"].append(slim(merged, f"{ksrc}:arm64/sbsa.json + {src}"))
    x86 = os.path.join(arch, "x86")
    rows = core_rows(os.path.join(x86, "mapfile.csv"))
    for _, _, directory, _ in rows:
        base = hand.get(directory) or ("zen" + directory[len("amdzen"):] if directory.startswith("amdzen") else directory)
        if f"x86/{base}" in out:
            continue
        for fname in sorted(os.listdir(os.path.join(x86, directory))):
            if not fname.endswith(".json") or fname == "metricgroups.json" or fname.startswith("uncore"):
                continue
            src = f"{ksrc}:x86/{directory}/{fname}"
            for m in load_json(os.path.join(x86, directory, fname)):
                if "MetricName" not in m or "MetricExpr" not in m:
                    continue
                # Hybrid parts: a core type's metrics go to its table; the package-wide ones
                # (no Unit) to the big cores' table, as perf lists them under cpu_core.
                table = f"x86/{base}-atom" if m.get("Unit") == "cpu_atom" else f"x86/{base}"
                out[table].append(slim(m, src))
    for table, metrics in out.items():
        write(os.path.join(here, table, "kernel-metrics.json"), metrics)
    return out


def core_rows(mapfile):
    """A kernel mapfile's core rows (cpuid pattern, version, directory, type)."""
    with open(mapfile, encoding="utf-8") as f:
        return [r for r in csv.reader(l for l in f if not l.startswith("#")) if len(r) >= 4 and r[3].strip() == "core"]


def kernel_version(arch_dir):
    """The tree's version: fetch-kernel-pmu-events.sh keeps the Debian package's version and
    the Makefile beside arch/; a whole source tree has its Makefile four levels up."""
    version_file = os.path.join(arch_dir, "..", "version")
    if os.path.exists(version_file):
        return open(version_file, encoding="utf-8").read().strip()
    for makefile in [os.path.join(arch_dir, "..", "Makefile"), os.path.join(arch_dir, "..", "..", "..", "..", "Makefile")]:
        try:
            text = open(makefile, encoding="utf-8").read(2000)
        except OSError:
            continue
        v = dict(re.findall(r"^(VERSION|PATCHLEVEL|SUBLEVEL) = (\d+)", text, re.M))
        return ".".join(v[k] for k in ("VERSION", "PATCHLEVEL", "SUBLEVEL") if k in v)
    return ""


def write(path, items):
    """One entry per line: diffs of a re-import read line by line, and the copy embedded
    in the binary stays small."""
    with open(path, "w", encoding="utf-8") as f:
        f.write("[\n" + ",\n".join(json.dumps(e, ensure_ascii=False) for e in items) + "\n]\n")


if __name__ == "__main__":
    main()
