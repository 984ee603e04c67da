"""Changes to jobs and what hangs off them: status, positions, hiring team, job ads and their
postings (Jobs API writes in jobs_extra.py, the control API, the generator)."""

from __future__ import annotations

from typing import Any

from syncd.sandbox.errors import ApiError, not_found
from syncd.sandbox.tenant_core import TenantCore


class JobWrites(TenantCore):
    # ---- jobs ---------------------------------------------------------------------------
    def set_job_status(self, job: dict[str, Any], status: str, *, at: str | None = None) -> None:
        when = at or self.now()
        job["status"] = status
        self.touch_job(job, when)
        self.job_history.setdefault(job["id"], []).append({"changedOn": when, "status": status})
        self.record_audit("JOB_STATUS_MODIFIED", "JOB", job["id"], {"status": status}, at=when)
        self.emit("job.status.updated", {"id": job["id"]})

    def delete_job(self, job_id: str) -> None:
        self.job(job_id)
        del self.jobs[job_id]
        self.record_audit("JOB_DELETED", "JOB", job_id, {})

    def create_job(self, data: dict[str, Any], *, creator: dict[str, Any]) -> dict[str, Any]:
        """``data`` holds the job's fields already resolved to ``{id, label}`` objects."""
        when = self.now()
        jid = self.new_id()
        job: dict[str, Any] = {
            "id": jid,
            **data,
            "createdOn": when,
            "updatedOn": when,
            "lastActivityOn": when,
            "status": "CREATED",
            "postingStatus": "NOT_PUBLISHED",
            "creator": creator,
        }
        self.jobs[jid] = job
        self.job_order.append(jid)
        self.job_history[jid] = [{"changedOn": when, "status": "CREATED"}]
        self.positions[jid] = {}
        self.hiring_team[jid] = [{**creator, "role": "HIRING_MANAGER"}]
        ad_id = self.new_id()
        self.job_ads[jid] = {
            ad_id: {
                "id": ad_id,
                "title": job["title"],
                "language": job["language"],
                "location": job["location"],
                "jobAd": job.get("jobAd") or {},
                "createdOn": when,
                "updatedOn": when,
                "postingStatus": "NOT_PUBLISHED",
                "defaultJobAd": True,
                "visibility": "PUBLIC",
                "creator": creator,
            }
        }
        self.record_audit("JOB_CREATED", "JOB", jid, {"title": job["title"]}, at=when)
        self.emit("job.created", {"id": jid})
        return job

    def update_job(
        self, job: dict[str, Any], data: dict[str, Any], replaced: tuple[str, ...]
    ) -> None:
        """PUT semantics: every key of ``replaced`` missing from ``data`` is removed."""
        when = self.now()
        for key in replaced:
            job.pop(key, None)
        job.update(data)
        self.touch_job(job, when)
        for ad in self.job_ads.get(job["id"], {}).values():
            if ad.get("defaultJobAd"):
                ad.update(title=job["title"], location=job["location"], updatedOn=when)
                ad["jobAd"] = job.get("jobAd") or {}
        self.record_audit("JOB_UPDATED", "JOB", job["id"], {"title": job["title"]}, at=when)
        self.emit("job.updated", {"id": job["id"]})

    # ---- hiring team, job ads and postings, positions -----------------------------------
    def add_hiring_team_member(self, job: dict[str, Any], user_id: str, role: str) -> None:
        """A user joins the hiring team (or takes the new role if already a member)."""
        user = next((u for u in self.users if u["id"] == user_id), None)
        if user is None:
            raise ApiError(400, "USER_NOT_FOUND", f"User {user_id} does not exist")
        team = [m for m in self.hiring_team.get(job["id"], []) if m["id"] != user_id]
        member = {"id": user_id, "firstName": user["firstName"], "lastName": user["lastName"]}
        self.hiring_team[job["id"]] = [*team, {**member, "role": role}]
        self.touch_job(job)
        self.record_audit("HIRING_TEAM_MEMBER_ADDED", "JOB", job["id"], {"userId": user_id})
        self.emit("job.hiring-team.updated", {"id": job["id"]})

    def remove_hiring_team_member(self, job: dict[str, Any], user_id: str) -> None:
        team = self.hiring_team.setdefault(job["id"], [])
        if not any(m["id"] == user_id for m in team):
            raise not_found("USER_NOT_FOUND", f"User {user_id} is not a member of the hiring team")
        if len(team) == 1:
            raise ApiError(
                400,
                "INVALID_HIRING_TEAM_STATE",
                "Cannot remove the last hiring team member: a hiring team needs at least one",
            )
        self.hiring_team[job["id"]] = [m for m in team if m["id"] != user_id]
        self.touch_job(job)
        self.record_audit("HIRING_TEAM_MEMBER_REMOVED", "JOB", job["id"], {"userId": user_id})
        self.emit("job.hiring-team.updated", {"id": job["id"]})

    def add_job_ad(
        self, job: dict[str, Any], data: dict[str, Any], creator: dict[str, Any]
    ) -> dict[str, Any]:
        when = self.now()
        ad: dict[str, Any] = {
            "id": self.new_id(),
            "location": job["location"],
            **data,
            "createdOn": when,
            "updatedOn": when,
            "postingStatus": "NOT_PUBLISHED",
            "defaultJobAd": False,
            "visibility": "PUBLIC",
            "creator": creator,
        }
        self.job_ads.setdefault(job["id"], {})[ad["id"]] = ad
        self.touch_job(job, when)
        self.emit("job.ad.created", {"job_id": job["id"], "job_ad_id": ad["id"]})
        return ad

    def update_job_ad(self, job: dict[str, Any], ad: dict[str, Any], data: dict[str, Any]) -> None:
        when = self.now()
        ad.update(data)
        ad["updatedOn"] = when
        self.touch_job(job, when)
        self.emit("job.ad.updated", {"job_id": job["id"], "job_ad_id": ad["id"]})

    def set_job_publication(
        self, job: dict[str, Any], posting_status: str, ads: list[dict[str, Any]] | None = None
    ) -> None:
        """Publish (PUBLIC/INTERNAL) or unpublish (NOT_PUBLISHED) the given ads, by default the
        job's default ad (publish) or all of them (unpublish); the job's postingStatus follows."""
        when = self.now()
        all_ads = list(self.job_ads.get(job["id"], {}).values())
        if ads is None:
            ads = (
                all_ads
                if posting_status == "NOT_PUBLISHED"
                else [a for a in all_ads if a.get("defaultJobAd")][:1]
            )
        for ad in ads:
            ad["postingStatus"] = posting_status
            ad["updatedOn"] = when
            if posting_status != "NOT_PUBLISHED":
                ad["visibility"] = posting_status
            self.emit("job.ad.postings.updated", {"job_id": job["id"], "job_ad_id": ad["id"]})
        live = [a for a in all_ads if a["postingStatus"] != "NOT_PUBLISHED"]
        job["postingStatus"] = live[0]["postingStatus"] if live else "NOT_PUBLISHED"
        self.touch_job(job, when)
        name = "JOB_UNPUBLISHED" if posting_status == "NOT_PUBLISHED" else "JOB_PUBLISHED"
        self.record_audit(name, "JOB", job["id"], {"postingStatus": job["postingStatus"]}, at=when)
        self.emit("job.updated", {"id": job["id"]})

    def add_position(self, job: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
        when = self.now()
        pid = self.new_id()
        pos = {
            "id": pid,
            "positionId": data.get("positionId") or f"POS-{self.rng.randrange(100000):05d}",
            **{k: v for k, v in data.items() if k != "positionId"},
            "createdOn": when,
            "status": "OPEN",
        }
        self.positions.setdefault(job["id"], {})[pid] = pos
        self.touch_job(job, when)
        self.record_audit("POSITION_CREATED", "JOB", job["id"], {"positionId": pid}, at=when)
        self.emit("position.created", {"job_id": job["id"], "position_id": pid})
        return pos
