#!/usr/bin/env python3
"""Convert the research notes' accelerators.csv into tessera's chip catalog TOML.

Input : crates/tessera-catalog/data/accelerators.source.csv
        (copied verbatim from the team's shared research notes, facts/accelerators.csv)
Output: crates/tessera-catalog/data/chips.toml

Every figure keeps the CSV's per-field status (exact / vendor-claimed / reported /
approximate) and the source segment whose label names that figure's category; where no
segment is labelled for it, the whole sources cell is kept. Empty cells stay absent
(unknown), never zero. Run it again after editing the CSV:

    python3 tools/import_accelerators.py
"""
import csv
import os
import re

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "..", "crates", "tessera-catalog", "data")
STATUSES = ["vendor-claimed", "exact", "reported", "approximate"]

# Host (PCIe) link per chip, bidirectional GB/s, for the October 2022 aggregate-I/O test.
# Only for chips whose scale-up link is separate from PCIe. PCI-SIG: Gen3 x16 ~32 GB/s,
# Gen4 x16 ~64 GB/s, Gen5 x16 ~128 GB/s, both directions together.
HOST_IO = {
    "nvidia-v100-sxm2": (32, "PCIe Gen3 x16 (V100 datasheet); ~32 GB/s both directions (PCI-SIG)"),
    "nvidia-a100-sxm4-40gb": (64, "PCIe Gen4 x16 (A100 datasheet); ~64 GB/s both directions (PCI-SIG)"),
    "nvidia-a100-sxm4-80gb": (64, "PCIe Gen4 x16 (A100 datasheet); ~64 GB/s both directions (PCI-SIG)"),
    "nvidia-a800-sxm4-80gb": (64, "PCIe Gen4 x16; ~64 GB/s both directions (research notes, export-control.md section 2)"),
    "nvidia-h100-sxm5-80gb": (128, "PCIe Gen5 x16 (H100 datasheet); ~128 GB/s both directions (PCI-SIG)"),
    "nvidia-h800-sxm5-80gb": (128, "PCIe Gen5 x16; ~128 GB/s both directions (research notes, export-control.md section 2)"),
    "nvidia-h20": (128, "PCIe Gen5 x16 (assumed, as H100); ~128 GB/s both directions (PCI-SIG)"),
    "nvidia-h200-sxm": (128, "PCIe Gen5 x16 (H200 datasheet); ~128 GB/s both directions (PCI-SIG)"),
    "huawei-ascend-910b1": (64, "PCIe 4.0 x16 assumed (Hot Chips 31 for the Ascend 910); the research notes assume aggregate I/O < 600 GB/s"),
    "huawei-ascend-910b2": (64, "PCIe 4.0 x16 assumed (Hot Chips 31 for the Ascend 910); the research notes assume aggregate I/O < 600 GB/s"),
    "huawei-ascend-910b3": (64, "PCIe 4.0 x16 assumed (Hot Chips 31 for the Ascend 910); the research notes assume aggregate I/O < 600 GB/s"),
    "huawei-ascend-910b4": (64, "PCIe 4.0 x16 assumed (Hot Chips 31 for the Ascend 910); the research notes assume aggregate I/O < 600 GB/s"),
    "huawei-ascend-910": (64, "PCIe 4.0 x16 (Hot Chips 31 Huawei DaVinci talk)"),
}

# Scale-out NIC per chip (Gb/s) where the research notes leave it blank but the usual
# server design is documented. All approximate: the fleet's own servers may differ.
SCALE_OUT = {
    "nvidia-a800-sxm4-80gb": (200, "assumed as DGX/HGX A100: one 200 Gb/s HDR InfiniBand NIC per GPU (Epoch AI DGX A100 figure); HGX A800 servers commonly follow it"),
    "huawei-ascend-910b1": (200, "Atlas 800T A2 server: 8 x 200GE RoCE ports for 8 NPUs (Huawei product page, as recalled; not re-verified in the corpus)"),
    "huawei-ascend-910b2": (200, "Atlas 800T A2 server: 8 x 200GE RoCE ports for 8 NPUs (Huawei product page, as recalled; not re-verified in the corpus)"),
    "huawei-ascend-910b3": (200, "Atlas 800T A2 server: 8 x 200GE RoCE ports for 8 NPUs (Huawei product page, as recalled; not re-verified in the corpus)"),
    "huawei-ascend-910b4": (200, "Atlas 800T A2 server: 8 x 200GE RoCE ports for 8 NPUs (Huawei product page, as recalled; not re-verified in the corpus)"),
    "nvidia-h20": (400, "assumed as HGX H100: one 400 Gb/s ConnectX-7 NIC per GPU (NVIDIA DGX H100 datasheet); HGX H20 servers reuse the HGX H100 board design (press reports)"),
}

# fp4 peaks the research notes give only in their notes column.
FP4 = {
    "nvidia-b200": (9000, "vendor-claimed", "research notes: accelerators.csv notes for the B200 ('FP4 dense 9 PFLOPS'), from NVIDIA's DGX B200 figures"),
}

# Chips whose only chip-to-chip link is PCIe: their scale-up figure is their whole I/O.
PCIE_ONLY = {
    "nvidia-l20", "nvidia-l40s", "nvidia-rtx-4090", "nvidia-rtx-4090d", "huawei-ascend-310p",
    "kunlunxin-k200", "kunlunxin-r200", "iluvatar-mr-v100",
}

# category -> words that, in a sources label, name it
LABELS = {
    "compute": ["compute", "dense", "fp16", "fp32", "tensor", "int8", "per-bin"],
    "memory": ["mem", "memory", "hbm", "32gb", "64gb", "8x64gb"],
    "mem_bw": ["mem", "bandwidth", "mem_bw"],
    "interconnect": ["nvlink", "interconnect", "hccs"],
    "chips_per_node": ["node", "nodes"],
    "nic": ["nic"],
    "tdp": ["tdp"],
    "die": ["die"],
    "price": ["price"],
}


def split_top(s, sep=";"):
    out, depth, cur = [], 0, ""
    for ch in s:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth = max(0, depth - 1)
        if ch == sep and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return out


def parse_status(cell):
    st = {}
    for part in split_top(cell):
        if "=" not in part:
            continue
        k, v = part.split("=", 1)
        k = k.strip()
        v = v.strip()
        status = None
        for s in STATUSES:
            if v.startswith(s):
                status = s
                break
        if status is None:
            for s in STATUSES:
                if s in v:
                    status = s
                    break
        st[k] = (status, v)
    return st


def parse_sources(cell):
    segs = []
    for part in split_top(cell):
        m = re.match(r"^([^:()]{1,60}):\s+(.*)$", part)
        if m:
            label = m.group(1).lower()
            words = re.split(r"[/,&\s]+", label)
            segs.append((words, part))
        else:
            segs.append(([], part))
    return segs


def source_for(cat, segs, whole):
    keys = LABELS.get(cat, [])
    hits = [text for words, text in segs if any(w in keys for w in words)]
    if hits:
        return "; ".join(hits)
    return whole


def q(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def num(s):
    s = s.strip()
    if s == "":
        return None
    v = float(s)
    return int(v) if v == int(v) and "." not in s else v


def main():
    rows = list(csv.DictReader(open(os.path.join(DATA, "accelerators.source.csv"), encoding="utf-8")))
    out = [
        "# tessera built-in chip catalog.",
        "# Generated by tools/import_accelerators.py from data/accelerators.source.csv,",
        "# the team's research notes (shared facts/accelerators.csv). Edit the CSV, then rerun.",
        "# Figures are dense (no sparsity). Absent figure = unknown. Units are in the key names:",
        "# tflops / tops per chip, memory-gb in GB, memory-bw-tb-s in TB/s, scale-up-gb-s and",
        "# host-io-gb-s bidirectional GB/s per chip, scale-out-gb-s GB/s per chip (NIC Gb/s / 8).",
        "",
    ]
    for r in rows:
        st = parse_status(r["field_status"])
        segs = parse_sources(r["sources"])
        whole = r["sources"]

        def fig(key, raw, cat, status_key=None, scale=None, note_extra=None):
            v = num(raw)
            if v is None:
                return
            if scale is not None:
                v = round(v * scale, 4)
            sk = status_key or cat
            status, detail = st.get(sk, (None, None))
            if status is None and sk == "fp32":
                status, detail = st.get("compute", (None, None))
            note = []
            if status is None:
                status = "reported"
                note.append("per-field status not given in the research notes; taken as reported")
            elif detail and detail != status:
                note.append(detail)
            if note_extra:
                note.append(note_extra)
            src = source_for(cat, segs, whole)
            parts = [f"value = {v}", f"status = {q(status)}", f"source = {q(src)}"]
            if note:
                parts.append(f"note = {q('; '.join(note))}")
            out.append(f"{key} = {{ {', '.join(parts)} }}")

        seg = r["market_segment"].lower()
        datacenter = "consumer" not in seg
        out.append("[[chip]]")
        out.append(f"id = {q(r['id'])}")
        out.append(f"name = {q(r['chip'])}")
        out.append(f"vendor = {q(r['vendor'])}")
        if r["variant_form_factor"]:
            out.append(f"variant = {q(r['variant_form_factor'])}")
        if r["release_year"]:
            out.append(f"release-year = {int(r['release_year'])}")
        out.append(f"segment = {q(r['market_segment'])}")
        out.append(f"datacenter = {'true' if datacenter else 'false'}")
        for key, col in [
            ("memory-type", "memory_type"),
            ("scale-up-kind", "intra_node_interconnect"),
            ("process", "process_node"),
            ("die-area-basis", "die_area_basis"),
            ("collective-lib", "collective_lib"),
            ("visible-devices-env", "visible_devices_env"),
            ("k8s-resource", "k8s_resource_name"),
            ("software-stack", "software_stack"),
            ("export-notes", "later_export_developments"),
            ("confidence", "confidence"),
            ("notes", "notes"),
        ]:
            if r[col]:
                out.append(f"{key} = {q(r[col])}")
        fig("fp32-tflops", r["fp32_tflops"], "compute", "fp32")
        fig("bf16-tflops", r["dense_bf16_tflops"], "compute")
        fig("fp16-tflops", r["dense_fp16_tflops"], "compute")
        fig("fp8-tflops", r["dense_fp8_tflops"], "compute")
        fig("int8-tops", r["dense_int8_tops"], "compute")
        if r["id"] in FP4:
            fv, fst, fsrc = FP4[r["id"]]
            out.append(f"fp4-tflops = {{ value = {fv}, status = {q(fst)}, source = {q(fsrc)} }}")
        fig("memory-gb", r["memory_gb"], "memory")
        fig("memory-bw-tb-s", r["memory_bw_tbps"], "mem_bw")
        fig("scale-up-gb-s", r["intra_node_bw_gbps_per_chip"], "interconnect")
        fig("scale-up-domain", r["typical_chips_per_node"], "chips_per_node")
        fig("scale-out-gb-s", r["scaleout_nic_gbps_per_chip"], "nic", scale=1 / 8,
            note_extra=f"converted from a {r['scaleout_nic_gbps_per_chip']} Gb/s NIC per chip")
        if not r["scaleout_nic_gbps_per_chip"] and r["id"] in SCALE_OUT:
            gb, src = SCALE_OUT[r["id"]]
            out.append(f"scale-out-gb-s = {{ value = {gb / 8}, status = \"approximate\", source = {q(src)}, note = \"converted from a {gb} Gb/s NIC per chip\" }}")
        fig("tdp-w", r["tdp_w"], "tdp")
        fig("die-area-mm2", r["die_area_mm2"], "die")
        if r["id"] in PCIE_ONLY:
            out.append("scale-up-is-host-link = true")
        if r["id"] in HOST_IO:
            v, src = HOST_IO[r["id"]]
            out.append(f"host-io-gb-s = {{ value = {v}, status = \"approximate\", source = {q(src)} }}")
        if r["price_low"]:
            status, detail = st.get("price", ("reported", None))
            status = status or "reported"
            parts = [
                f"low = {num(r['price_low'])}",
                f"high = {num(r['price_high'] or r['price_low'])}",
                f"currency = {q(r['price_currency'])}",
                f"date = {q(r['price_date'])}",
                f"status = {q(status)}",
                f"source = {q(source_for('price', segs, whole))}",
            ]
            if r["price_basis"]:
                parts.append(f"basis = {q(r['price_basis'])}")
            out.append(f"price = {{ {', '.join(parts)} }}")
        if r["tpp"]:
            out.append(f"reference-tpp = {num(r['tpp'])}")
        out.append("")
    with open(os.path.join(DATA, "chips.toml"), "w", encoding="utf-8") as f:
        f.write("\n".join(out))


if __name__ == "__main__":
    main()
