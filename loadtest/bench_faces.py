"""Which face detector: run the offline candidates on real photos with faces.

    python -m loadtest.bench_faces

Photos: skimage's astronaut and cameraman, matplotlib's Grace Hopper portrait, and harder
versions of them (small, turned, partly covered, a group). Candidates that work offline:
dlib HOG (0/1 upsampling) and dlib's CNN (MMOD) detector with the models from the
`face-recognition-models` wheel, and scikit-image's LBP frontal-face cascade (OpenCV 5 no
longer ships the Haar cascade classifier). RetinaFace needs fetched weights and is not measured
here.
"""

from __future__ import annotations

import time

import cv2
import numpy as np

from deployments.faces.facelib import models_dir
from loadtest.photos import face_photos


def dlib_hog(upsample: int):
    import dlib

    detector = dlib.get_frontal_face_detector()
    return lambda rgb: len(detector(np.ascontiguousarray(rgb), upsample))


def dlib_cnn():
    import dlib

    detector = dlib.cnn_face_detection_model_v1(str(models_dir() / "mmod_human_face_detector.dat"))
    return lambda rgb: len(detector(np.ascontiguousarray(rgb), 1))


def dlib_hog_adaptive():
    """Upsample only when nothing was found: small faces without the false positives."""
    import dlib

    detector = dlib.get_frontal_face_detector()

    def detect(rgb):
        image = np.ascontiguousarray(rgb)
        for upsample in (0, 1, 2):
            found = len(detector(image, upsample))
            if found:
                return found
        return 0

    return detect


def skimage_lbp():
    from skimage import data
    from skimage.feature import Cascade

    cascade = Cascade(data.lbp_frontal_face_cascade_filename())

    def detect(rgb):
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY) / 255.0
        found = cascade.detect_multi_scale(
            img=gray, scale_factor=1.2, step_ratio=1, min_size=(30, 30), max_size=(400, 400)
        )
        return len(found)

    return detect


CANDIDATES = {
    "dlib HOG": lambda: dlib_hog(0),
    "dlib HOG, upsample 1": lambda: dlib_hog(1),
    "dlib CNN (MMOD)": dlib_cnn,
    "dlib HOG, adaptive": dlib_hog_adaptive,
    "skimage LBP cascade": skimage_lbp,
}


def main() -> None:
    photos = face_photos()
    print(
        f"{'detector':24}"
        + "".join(f"{name[:14]:>16}" for name in photos)
        + f"{'hits':>7}{'ms/img':>8}"
    )
    print(f"{'(faces present)':24}" + "".join(f"{n:>16}" for _, n in photos.values()))
    for label, make in CANDIDATES.items():
        detect = make()
        row, hits, started = [], 0, time.perf_counter()
        for image, expected in photos.values():
            found = detect(image)
            hits += min(found, expected) - max(0, found - expected)
            row.append(found)
        ms = (time.perf_counter() - started) / len(photos) * 1000
        total = sum(n for _, n in photos.values())
        print(f"{label:24}" + "".join(f"{n:>16}" for n in row) + f"{hits:>4}/{total}{ms:8.0f}")


if __name__ == "__main__":
    main()
