"""POST /v1/restore-face: GFPGAN v1.4 face restoration over a background at the input size
(scale 1) or upscaled by the Upscaler deployment (scale 2/4 or a size tier).

Faces are found with dlib (detector and 68 landmarks from PyPI wheels), aligned to the FFHQ
template, restored in batches across faces and jobs, and pasted back feathered; each restored
face is also a result of its own (`/v1/jobs/{id}/faces/{i}`).
"""

from typing import Annotated, Literal

from pydantic import Field

from serve_app.core.catalog import Catalog
from serve_app.core.errors import ModelUnavailable
from serve_app.engine.backends import ResultKind
from serve_app.operations import upscale
from serve_app.operations._operation import Given, Operation, Plan, Price, upscale_edge
from serve_app.operations._params import integer, number

NAME = "restore-face"
DETECTOR = "dlib-face-landmarks-68"
DETECTION = "face-detect"  # configs/models.yaml group of the detector
MAX_FACES = 10
DEFAULT_FIDELITY = 0.7  # PixelForge's default


class RestoreParams(upscale.Sized):
    scale: (
        Annotated[
            Literal[1, 2, 4],
            upscale.scale_reader((1, 2, 4)),
            Field(description="the background: 1 keeps the input size (default)"),
        ]
        | None
    ) = None
    fidelity: number(0, 1, "how much of the restored face replaces the original") = DEFAULT_FIDELITY
    max_faces: integer(1, MAX_FACES, "largest faces first") = MAX_FACES


def face_model(catalog: Catalog) -> str:
    restorers = [s for s in catalog.for_operation(NAME) if catalog.available(s)]
    detector = catalog.specs.get(DETECTOR)
    if not restorers:
        raise ModelUnavailable(
            "Face restoration has no weights on this server (GFPGAN v1.4): "
            + catalog.how_to_get("gfpgan-v1.4")
        )
    if detector is None or not catalog.available(detector):
        raise ModelUnavailable("The face detector has no weights on this server.")
    return restorers[0].name


def plan(params: RestoreParams, given: Given) -> Plan:
    shape = upscale.geometry(params.scale, params.size, given, default_scale=1)
    model = face_model(given.catalog)
    background = upscale.model_name(given.catalog, params.model) if shape.scale != 1 else ""
    if background:
        out_size = (shape.out_width, shape.out_height)
        upscale.check_memory(given, background, given.image.size, out_size)
    cost = given.price(shape.tier)
    job = upscale.job_params(model, shape, params, cost)
    job.update(background_model=background, fidelity=params.fidelity, max_faces=params.max_faces)
    return Plan({**job, "adjust": {}}, cost, shape.label)


OPERATION = Operation(
    name=NAME,
    summary="Restore faces with GFPGAN, over the photo or its upscaled background",
    description=(
        "Detect up to 10 faces, restore each with GFPGAN v1.4, paste them back over the "
        "background (`scale` 1, 2, 4 or a `size` tier upscales it with Real-ESRGAN first). "
        "`fidelity` 0..1 blends restored faces over the originals (0 changes nothing). The "
        "finished job lists `countfaces` and `face_urls`."
    ),
    params=RestoreParams,
    plan=plan,
    deployment="deployments.faces.face_restorer:FaceRestorer",
    method="restore",
    price=Price.BY_OUTPUT,
    result=ResultKind.IMAGES,
    models=(NAME, DETECTION),
    fetch="gfpgan-v1.4",
    max_edge=upscale_edge,
)
