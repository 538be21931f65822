"""OpenAPI descriptions for routes that read their body by hand."""

_PARAMS = {
    "scale": {"type": "integer", "enum": [2, 4], "default": 2},
    "size": {"type": "string", "enum": ["HD", "FHD", "2K", "4K", "1280", "1920", "2560", "3840"]},
    "model": {"type": "string", "enum": ["fast", "quality", "anime"], "default": "fast"},
    "output_format": {"type": "string", "enum": ["png", "jpg", "webp"], "default": "png"},
}

SUBMIT_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"image": {"type": "string", "format": "binary"}, **_PARAMS},
                    "required": ["image"],
                }
            },
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "image_base64": {
                            "type": "string",
                            "description": "with or without data: prefix",
                        },
                        "image_url": {"type": "string", "format": "uri"},
                        **_PARAMS,
                    },
                }
            },
        },
    }
}
