"""The error catalog: one class per failure the caller can act on.

Every error renders as the envelope `{"ok": false, "error": code, "detail": sentence, ...}`.
Codes and statuses follow the PND AI table where it has one.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ApiError(Exception):
    status: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    default_detail: ClassVar[str] = "The request could not be processed."

    def __init__(self, detail: str | None = None, headers: dict[str, str] | None = None, **extra):
        self.detail = detail or self.default_detail
        self.headers = headers or {}
        self.extra: dict[str, Any] = extra
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"ok": False, "error": self.code, "detail": self.detail, **self.extra}


def _error(name: str, status: int, code: str, detail: str) -> type[ApiError]:
    return type(name, (ApiError,), {"status": status, "code": code, "default_detail": detail})


InvalidJson = _error("InvalidJson", 400, "invalid_json", "Body is not valid JSON.")
NoImage = _error("NoImage", 400, "no_image", "No image was given.")
InvalidBase64 = _error("InvalidBase64", 400, "invalid_base64", "Base64 decoding failed.")
CorruptImage = _error("CorruptImage", 400, "corrupt_image", "The image cannot be read.")
InvalidSize = _error("InvalidSize", 400, "invalid_size", "size is not one of HD, FHD, 2K, 4K.")
InvalidParameter = _error("InvalidParameter", 400, "invalid_parameter", "A parameter is invalid.")
InvalidJobId = _error("InvalidJobId", 400, "invalid_job_id", "job_id has an invalid format.")
InvalidUrl = _error("InvalidUrl", 400, "invalid_url", "image_url must be an http(s) URL.")
InvalidLora = _error("InvalidLora", 400, "invalid_lora", "The file is not a usable LoRA.")
InvalidModel = _error("InvalidModel", 400, "invalid_model", "Model name not recognized.")
UrlNotAllowed = _error("UrlNotAllowed", 400, "url_not_allowed", "image_url target is refused.")
UrlFetchFailed = _error("UrlFetchFailed", 400, "url_fetch_failed", "image_url could not be read.")
MissingKey = _error("MissingKey", 401, "missing_key", "Missing API key.")
InvalidKeyFormat = _error(
    "InvalidKeyFormat", 401, "invalid_key_format", "The key does not have the expected format."
)
InvalidKey = _error("InvalidKey", 401, "invalid_key", "Invalid API key or account is locked")
InvalidAdminToken = _error("InvalidAdminToken", 401, "invalid_admin_token", "Invalid admin token.")
InvalidClient = _error("InvalidClient", 401, "invalid_client", "No such client_id.")
InvalidIdToken = _error("InvalidIdToken", 401, "invalid_id_token", "The id_token is not valid.")
InvalidAccessToken = _error(
    "InvalidAccessToken", 401, "invalid_access_token", "The access token is missing or expired."
)
OutOfCredits = _error("OutOfCredits", 402, "out_of_credits", "Not enough credits.")
AdminDisabled = _error("AdminDisabled", 403, "admin_disabled", "The admin API has no token.")
NotYourJob = _error("NotYourJob", 403, "not_your_job", "This job belongs to another account.")
InvalidSignature = _error(
    "InvalidSignature", 403, "invalid_signature", "The signed URL is wrong or has expired."
)
InvalidUploadUrl = _error(
    "InvalidUploadUrl", 403, "invalid_upload_url", "The upload URL is wrong or has expired."
)
NotFound = _error("NotFound", 404, "not_found", "No such route.")
TooManyJobs = _error(
    "TooManyJobs", 429, "too_many_jobs", "Too many jobs of this account are queued or running."
)
JobNotFound = _error("JobNotFound", 404, "job_not_found", "job_id is wrong or has expired.")
CustomModelNotFound = _error(
    "CustomModelNotFound", 404, "custom_model_not_found", "No custom model of that name."
)
AccountNotFound = _error("AccountNotFound", 404, "account_not_found", "No such account.")
MethodNotAllowed = _error("MethodNotAllowed", 405, "method_not_allowed", "Method not allowed.")
RequestTooLarge = _error(
    "RequestTooLarge", 413, "request_too_large", "The request body is too large."
)
ImageTooLarge = _error("ImageTooLarge", 413, "image_too_large", "The image file is too large.")
PixelTooLarge = _error("PixelTooLarge", 413, "pixel_too_large", "The image is too large.")
PixelTooSmall = _error("PixelTooSmall", 400, "pixel_too_small", "The image is too small.")
InvalidFormat = _error(
    "InvalidFormat", 415, "invalid_format", "Accepted: jpg, png, webp, bmp, tiff, sgi."
)
NotReady = _error("NotReady", 425, "not_ready", "The job is not done yet.")
JobTooLarge = _error(
    "JobTooLarge", 413, "job_too_large", "This job needs more memory than one job may take here."
)
NoMask = _error("NoMask", 400, "no_mask", "This operation needs a mask.")
InvalidMask = _error("InvalidMask", 400, "invalid_mask", "The mask must be a grayscale image.")
EmptyMask = _error("EmptyMask", 400, "empty_mask", "The mask has no white pixels.")
MaskSizeMismatch = _error(
    "MaskSizeMismatch", 400, "mask_size_mismatch", "The mask must have the image's size."
)
PromptTooLong = _error("PromptTooLong", 400, "prompt_too_long", "The prompt is too long.")
ModelUnavailable = _error("ModelUnavailable", 503, "model_unavailable", "Model is unavailable.")
ServiceUnavailable = _error(
    "ServiceUnavailable", 503, "service_unavailable", "The service is briefly unavailable; retry."
)
InternalError = _error("InternalError", 500, "internal_error", "Something went wrong on our side.")

# Codes a job can fail with (stored on the job, not raised in a request).
JOB_ERROR_CODES = {
    "corrupt_image": "The image could not be decoded.",
    "error_inference": "The model failed on this image.",
    "model_unavailable": "The model is unavailable.",
    "timeout": "The job took longer than its deadline.",
    "internal_error": "Something went wrong on our side.",
    "empty_mask": "The clicks selected nothing to change.",
}
CustomModelExists = _error(
    "CustomModelExists", 409, "custom_model_exists", "A custom model of that name exists."
)
JobFailed = _error("JobFailed", 409, "job_failed", "The job failed; there is no result.")
JobNotFinished = _error(
    "JobNotFinished", 409, "job_not_finished", "That job has no result yet; wait until it is done."
)
RateLimitExceeded = _error("RateLimitExceeded", 429, "rate_limit_exceeded", "Too many requests.")
OperationNotAllowed = _error(
    "OperationNotAllowed", 403, "operation_not_allowed", "Your plan does not include this."
)
IdempotencyMismatch = _error(
    "IdempotencyMismatch",
    422,
    "idempotency_key_reused",
    "This Idempotency-Key was used with a different request.",
)
IdempotencyInProgress = _error(
    "IdempotencyInProgress",
    409,
    "idempotency_in_progress",
    "A request with this Idempotency-Key is still being processed.",
)
