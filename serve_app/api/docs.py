"""OpenAPI descriptions for routes that read their body by hand (multipart or JSON)."""

_UPSCALE = {
    "scale": {"type": "integer", "enum": [2, 4], "default": 2},
    "size": {"type": "string", "enum": ["HD", "FHD", "2K", "4K", "1280", "1920", "2560", "3840"]},
    "model": {"type": "string", "enum": ["fast", "quality", "anime"], "default": "fast"},
    "output_format": {"type": "string", "enum": ["png", "jpg", "webp"], "default": "png"},
    "quality": {"type": "integer", "minimum": 1, "maximum": 100, "description": "jpg/webp"},
}
_RESTORE = {
    **_UPSCALE,
    "scale": {"type": "integer", "enum": [1, 2, 4], "default": 1},
    "fidelity": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.7},
    "max_faces": {"type": "integer", "minimum": 1, "maximum": 10, "default": 10},
}


def submit_doc(params: dict) -> dict:
    multipart = {"image": {"type": "string", "format": "binary"}, **params}
    json_body = {
        "image_base64": {"type": "string", "description": "with or without data: prefix"},
        "image_url": {"type": "string", "format": "uri"},
        **params,
    }
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {"type": "object", "properties": multipart, "required": ["image"]}
                },
                "application/json": {"schema": {"type": "object", "properties": json_body}},
            },
        }
    }


SUBMIT_DOC = submit_doc(_UPSCALE)
RESTORE_DOC = submit_doc(_RESTORE)


_FORMAT = {"type": "string", "enum": ["png", "jpg", "webp"], "default": "png"}
_MASK = {
    "mask": {"type": "string", "format": "binary", "description": "white = change"},
    "mask_base64": {"type": "string"},
    "points": {"type": "string", "description": "JSON [[x, y, label], ...]; instead of a mask"},
    "box": {"type": "string", "description": "JSON [x0, y0, x1, y1]"},
}
EDIT_DOCS = {
    "remove-background": submit_doc(
        {
            "format": _FORMAT,
            "bg_color": {"type": "string", "description": "#rrggbb; default transparent"},
            "only_mask": {"type": "boolean", "default": False},
        }
    ),
    "segment": submit_doc(
        {
            "points": _MASK["points"],
            "box": _MASK["box"],
            "multimask": {"type": "boolean", "default": True},
        }
    ),
    "erase-object": submit_doc({**_MASK, "output_format": _FORMAT}),
    "inpaint": submit_doc(
        {
            **_MASK,
            "prompt": {"type": "string", "default": "high quality photo", "maxLength": 400},
            "negative_prompt": {"type": "string"},
            "steps": {"type": "integer", "minimum": 1, "maximum": 100, "default": 30},
            "cfg_scale": {"type": "number", "minimum": 0, "maximum": 30, "default": 7.0},
            "strength": {"type": "number", "minimum": 0.01, "maximum": 1, "default": 0.85},
            "seed": {"type": "integer"},
            "output_format": _FORMAT,
        }
    ),
    "enhance": submit_doc(
        {
            "wb": {"type": "boolean", "default": True},
            "color": {"type": "number", "minimum": -10, "maximum": 10, "default": 0},
            "strength": {"type": "number", "minimum": 0, "maximum": 1, "default": 1},
            "denoise": {"type": "boolean", "default": False},
            "output_format": _FORMAT,
        }
    ),
}
