"""Face parsing: the 19-class BiSeNet (CelebAMask-HQ labels) whose weights facexlib publishes
(`parsing_bisenet.pth`, from face-parsing.PyTorch). Written here with the same module names,
so that checkpoint loads strictly; facexlib itself is not a dependency (its other parts pull
numba and filterpy).

Why this one: 19 classes give every region the styling tasks need (hair, skin, lips, brows,
eyes, neck), it is 13 M parameters (ResNet-18 context path: ~50 MB, fast on CPU at 512²),
and it is what GFPGAN/CodeFormer pipelines already run on aligned 512² faces, which is what
the face pipeline here produces.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

CLASSES = (
    "background", "skin", "l_brow", "r_brow", "l_eye", "r_eye", "eye_g", "l_ear", "r_ear",
    "ear_r", "nose", "mouth", "u_lip", "l_lip", "neck", "neck_l", "cloth", "hair", "hat",
)  # fmt: skip
REGIONS = {
    "hair": ("hair",),
    "skin": ("skin", "nose"),
    "lips": ("u_lip", "l_lip", "mouth"),
    "brows": ("l_brow", "r_brow"),
    "eyes": ("l_eye", "r_eye"),
    "neck": ("neck",),
}
MEAN, STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # ImageNet: how it was trained


def build():
    """The network, random-initialised (load() puts the weights in)."""
    import torch
    from torch import nn
    from torch.nn import functional as F

    class ConvBNReLU(nn.Module):
        def __init__(self, cin, cout, ks=3, stride=1, padding=1):
            super().__init__()
            self.conv = nn.Conv2d(cin, cout, ks, stride, padding, bias=False)
            self.bn = nn.BatchNorm2d(cout)

        def forward(self, x):
            return F.relu(self.bn(self.conv(x)))

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride=1):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if cin != cout or stride != 1:
                self.downsample = nn.Sequential(
                    nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)
                )

        def forward(self, x):
            residual = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
            shortcut = x if self.downsample is None else self.downsample(x)
            return F.relu(shortcut + residual)

    def layer(cin, cout, stride):
        return nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout))

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            self.layer1, self.layer2 = layer(64, 64, 1), layer(64, 128, 2)
            self.layer3, self.layer4 = layer(128, 256, 2), layer(256, 512, 2)

        def forward(self, x):
            x = self.layer1(self.maxpool(F.relu(self.bn1(self.conv1(x)))))
            feat8 = self.layer2(x)
            feat16 = self.layer3(feat8)
            return feat8, feat16, self.layer4(feat16)

    class Attention(nn.Module):  # its AttentionRefinementModule
        def __init__(self, cin, cout):
            super().__init__()
            self.conv = ConvBNReLU(cin, cout)
            self.conv_atten = nn.Conv2d(cout, cout, 1, bias=False)
            self.bn_atten = nn.BatchNorm2d(cout)

        def forward(self, x):
            feat = self.conv(x)
            weights = self.bn_atten(self.conv_atten(F.adaptive_avg_pool2d(feat, 1)))
            return feat * torch.sigmoid(weights)

    class ContextPath(nn.Module):
        def __init__(self):
            super().__init__()
            self.resnet = ResNet18()
            self.arm16, self.arm32 = Attention(256, 128), Attention(512, 128)
            self.conv_head32, self.conv_head16 = ConvBNReLU(128, 128), ConvBNReLU(128, 128)
            self.conv_avg = ConvBNReLU(512, 128, 1, 1, 0)

        def forward(self, x):
            feat8, feat16, feat32 = self.resnet(x)
            average = self.conv_avg(F.adaptive_avg_pool2d(feat32, 1))
            up32 = F.interpolate(self.arm32(feat32) + average, feat16.shape[2:], mode="nearest")
            up32 = self.conv_head32(up32)
            up16 = F.interpolate(self.arm16(feat16) + up32, feat8.shape[2:], mode="nearest")
            return feat8, self.conv_head16(up16)

    class Fusion(nn.Module):  # its FeatureFusionModule
        def __init__(self, cin, cout):
            super().__init__()
            self.convblk = ConvBNReLU(cin, cout, 1, 1, 0)
            self.conv1 = nn.Conv2d(cout, cout // 4, 1, bias=False)
            self.conv2 = nn.Conv2d(cout // 4, cout, 1, bias=False)

        def forward(self, spatial, context):
            feat = self.convblk(torch.cat([spatial, context], dim=1))
            weights = self.conv2(F.relu(self.conv1(F.adaptive_avg_pool2d(feat, 1))))
            return feat * torch.sigmoid(weights) + feat

    class Output(nn.Module):
        def __init__(self, cin, mid, classes):
            super().__init__()
            self.conv = ConvBNReLU(cin, mid)
            self.conv_out = nn.Conv2d(mid, classes, 1, bias=False)

        def forward(self, x):
            return self.conv_out(self.conv(x))

    class BiSeNet(nn.Module):
        def __init__(self, classes: int = len(CLASSES)):
            super().__init__()
            self.cp = ContextPath()
            self.ffm = Fusion(256, 256)
            self.conv_out = Output(256, 256, classes)
            # the two auxiliary heads of training: in the checkpoint, unused here
            self.conv_out16 = Output(128, 64, classes)
            self.conv_out32 = Output(128, 64, classes)

        def forward(self, x):
            feat8, context8 = self.cp(x)
            out = self.conv_out(self.ffm(feat8, context8))
            return F.interpolate(out, x.shape[2:], mode="bilinear", align_corners=True)

    return BiSeNet()


def load(path: Path, device):
    """The checkpoint (a plain state dict, as facexlib publishes it), strictly."""
    import torch

    network = build()
    state = torch.load(path, map_location="cpu", weights_only=True)
    network.load_state_dict(state, strict=True)
    return network.eval().to(device.torch_device)


def parse(network, faces: np.ndarray) -> np.ndarray:
    """N x 512 x 512 x 3 uint8 aligned faces -> N x 512 x 512 class indices (uint8)."""
    import torch

    x = torch.from_numpy(faces).permute(0, 3, 1, 2).float().div(255.0)
    mean, std = torch.tensor(MEAN).view(1, 3, 1, 1), torch.tensor(STD).view(1, 3, 1, 1)
    with torch.inference_mode():
        logits = network(((x - mean) / std).to(next(network.parameters()).device))
    return logits.argmax(1).to(torch.uint8).cpu().numpy()


def regions(labels: np.ndarray) -> dict[str, np.ndarray]:
    """Boolean masks of the regions the styling tasks edit, from one face's labels."""
    index = {name: i for i, name in enumerate(CLASSES)}
    return {
        region: np.isin(labels, [index[name] for name in names])
        for region, names in REGIONS.items()
    }


def grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    """`mask` dilated by `pixels` (a disc): the hair tasks edit a little beyond the hair."""
    from deployments.common.lazy import cv2

    if pixels <= 0:
        return mask.astype(bool)
    disc = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * pixels + 1, 2 * pixels + 1))
    return cv2.dilate(mask.astype(np.uint8), disc) > 0
