"""The videos API: ``GET /videos/models``, ``POST /videos`` (a job), ``GET /videos/{id}`` (poll),
``GET /videos/{id}/content`` (the MP4).

A job walks its script one status per poll (``in_progress`` × (polls - 1), then ``completed`` by
default; ``OpenRouterDouble.script_video`` queues other scripts). It is billed when a poll first
sees it completed.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from .. import _media
from .._http import (
    PREFIX,
    ApiError,
    Req,
    Resp,
    bad_request,
    error_resp,
    json_resp,
    required_model_id,
)
from ..catalog import VIDEO_BY_ID, VIDEO_MODELS, find_model, split_variant
from ..faults import error_body
from ._base import Endpoints, route

VIDEO_TERMINAL = {"completed", "failed", "cancelled", "expired"}


@dataclass
class VideoJob:
    id: str
    model: str
    prompt: str
    duration: int
    resolution: str | None
    script: list[str]
    error: str | None
    generation_id: str
    cost: float
    created: int
    polls: int = 0
    status: str = "pending"


class VideoAPI(Endpoints):
    """The submitted jobs by id, and the queue of scripts for jobs not yet submitted."""

    def reset(self) -> None:
        with self.app.lock:
            self.jobs: dict[str, VideoJob] = {}
            self.scripts: deque[tuple[list[str], str | None]] = deque()

    def script(self, statuses: list[str], error: str | None) -> None:
        """The next submitted job walks ``statuses`` (queued: each job takes the oldest)."""
        with self.app.lock:
            self.scripts.append((list(statuses), error))

    def job(self, job_id: str) -> dict[str, Any] | None:
        """A copy of the job's fields (status, polls, script), or None."""
        with self.app.lock:
            job = self.jobs.get(job_id)
            return None if job is None else dict(vars(job))

    def _job_of(self, req: Req) -> VideoJob:
        """The job the path names; the 404 when there is none."""
        with self.app.lock:
            job = self.jobs.get(req.params["id"])
        if job is None:
            raise ApiError(404, error_body(404, "Video generation job not found"))
        return job

    # ---- handlers (in match order: /videos/models would also match /videos/{id}) -------------
    @route("GET", r"/videos/models", auth=False)
    async def video_models(self, req: Req) -> Resp:
        return json_resp({"data": VIDEO_MODELS})

    @route("POST", r"/videos", auth=True)
    async def video_submit(self, req: Req) -> Resp:
        body = req.body()
        model_id = required_model_id(body)
        spec = VIDEO_BY_ID.get(split_variant(model_id)[0])
        if spec is None:
            if find_model(model_id) is not None:
                raise bad_request(f"Model {model_id} does not support video generation")
            raise bad_request(f"Model {model_id} does not exist")
        prompt = body.get("prompt")
        frames = body.get("frame_images")
        if (prompt is None or (isinstance(prompt, str) and not prompt.strip())) and not frames:
            raise bad_request("prompt: Required")
        if prompt is not None and not isinstance(prompt, str):
            raise bad_request("prompt: must be a string")
        duration = body.get("duration")
        _check_options(body, duration, spec)
        if frames is not None:
            _check_frames(frames, spec)
        refs = body.get("input_references")
        if refs is not None:
            _check_references(refs)
        with self.app.lock:
            script, error = self.scripts.popleft() if self.scripts else (None, None)
        if script is None:
            n = max(1, int(self.app.config.video_polls_to_complete))
            script = ["in_progress"] * (n - 1) + ["completed"]
        seconds = duration or spec["supported_durations"][0]
        res = body.get("resolution") or spec["supported_resolutions"][0]
        skus = spec["pricing_skus"]
        per_s = float(skus.get(f"per-video-second-{res}", skus.get("per-video-second", "0")))
        job = VideoJob(
            id=self.app.new_id("job", req.body_hash).replace("job-", "job_", 1),
            model=spec["id"],
            prompt=prompt or "",
            duration=seconds,
            resolution=res,
            script=script,
            error=error,
            generation_id=self.app.new_id("gen", req.body_hash),
            cost=round(per_s * seconds, 6),
            created=int(time.time()),
        )
        with self.app.lock:
            self.jobs[job.id] = job
        return json_resp(
            {"id": job.id, "polling_url": f"{PREFIX}/videos/{job.id}", "status": "pending"}, 202
        )

    @route("GET", r"/videos/(?P<id>[^/]+)", auth=True)
    async def video_poll(self, req: Req) -> Resp:
        job = self._job_of(req)
        with self.app.lock:
            if job.status not in VIDEO_TERMINAL:
                job.polls += 1
                job.status = job.script[min(job.polls, len(job.script)) - 1]
            view = _job_view(job, req.origin)
            completed = job.status == "completed"
        account = self.app.account_api
        if completed and not account.has_generation(job.generation_id):
            account.record_generation(
                job.generation_id,
                req,
                model=job.model,
                api_type="video",
                total_cost=job.cost,
                usage=job.cost,
            )
        return json_resp(view)

    @route("GET", r"/videos/(?P<id>[^/]+)/content", auth=True)
    async def video_content(self, req: Req) -> Resp:
        job = self._job_of(req)
        if job.status != "completed":
            return error_resp(400, f"Video {job.id} is not completed (status: {job.status})")
        if req.query.get("index", "0") != "0":
            return error_resp(404, "No video at that index")
        headers = {
            "Content-Type": "video/mp4",
            "Content-Disposition": f'inline; filename="{job.id}.mp4"',
        }
        n = self.app.config.video_content_bytes
        if n is None:
            return Resp(200, headers, body=_media.asset_bytes("clip.mp4"))
        return Resp(200, headers, stream=_media.mp4_stream(n), length=n)


# ---- request checks ----------------------------------------------------------------------------


def _check_options(body: dict[str, Any], duration: Any, spec: dict[str, Any]) -> None:
    """``duration``, ``resolution``, ``aspect_ratio`` and ``size``: each one the model offers."""
    if duration is not None:
        if not isinstance(duration, int) or isinstance(duration, bool):
            raise bad_request("duration: must be an integer number of seconds")
        if duration not in spec["supported_durations"]:
            raise bad_request(
                f"duration {duration} is not supported by {spec['id']}. "
                f"Supported durations: {', '.join(map(str, spec['supported_durations']))}"
            )
    for name, key in (
        ("resolution", "supported_resolutions"),
        ("aspect_ratio", "supported_aspect_ratios"),
        ("size", "supported_sizes"),
    ):
        value = body.get(name)
        if value is not None and value not in spec[key]:
            raise bad_request(
                f"{name} '{value}' is not supported by {spec['id']}. "
                f"Supported values: {', '.join(spec[key])}"
            )


def _check_frames(frames: Any, spec: dict[str, Any]) -> None:
    if not isinstance(frames, list):
        raise bad_request("frame_images: must be an array")
    allowed = spec["supported_frame_images"] or []
    seen: set[str] = set()
    for i, fr in enumerate(frames):
        url = (
            fr.get("image_url", {}).get("url")
            if isinstance(fr, dict) and isinstance(fr.get("image_url"), dict)
            else None
        )
        if (
            not isinstance(fr, dict)
            or fr.get("type") != "image_url"
            or not isinstance(url, str)
            or not url
        ):
            raise bad_request(
                f"frame_images[{i}]: expected {{type: 'image_url', image_url: {{url}}, frame_type}}"
            )
        if not (url.startswith(("https://", "http://")) or url.startswith("data:image/")):
            raise bad_request(
                f"frame_images[{i}].image_url.url: must be an http(s) or data:image URL"
            )
        ft = fr.get("frame_type")
        if ft not in ("first_frame", "last_frame"):
            raise bad_request(f"frame_images[{i}].frame_type: must be first_frame or last_frame")
        if not allowed:
            raise bad_request(f"{spec['id']} does not support frame images")
        if ft not in allowed:
            raise bad_request(
                f"frame_type '{ft}' is not supported by {spec['id']}. Supported: {', '.join(allowed)}"
            )
        if ft in seen:
            raise bad_request(f"frame_images: duplicate {ft}")
        seen.add(ft)


def _check_references(refs: Any) -> None:
    if not isinstance(refs, list):
        raise bad_request("input_references: must be an array")
    for i, r in enumerate(refs):
        kind = r.get("type") if isinstance(r, dict) else None
        if kind not in ("image_url", "audio_url", "video_url") or not isinstance(
            (r.get(kind) or {}).get("url") if isinstance(r.get(kind), dict) else None, str
        ):
            raise bad_request(
                f"input_references[{i}]: expected {{type: image_url|audio_url|video_url, <type>: {{url}}}}"
            )


def _job_view(job: VideoJob, origin: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": job.id,
        "polling_url": f"{PREFIX}/videos/{job.id}",
        "status": job.status,
    }
    if job.status == "completed":
        out["generation_id"] = job.generation_id
        out["unsigned_urls"] = [f"{origin}{PREFIX}/videos/{job.id}/content?index=0"]
        out["usage"] = {"cost": job.cost, "is_byok": False}
    elif job.status == "failed":
        out["error"] = job.error or "Video generation failed"
    elif job.status in ("cancelled", "expired") and job.error:
        out["error"] = job.error
    return out
