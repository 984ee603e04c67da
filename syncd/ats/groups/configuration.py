"""Configuration API: single lists ``{totalFound, content}``."""

from __future__ import annotations

from syncd.ats.groups.base import (
    Group,
    Json,
)


class Configuration(Group):
    """Configuration API: single lists ``{totalFound, content}``."""

    async def departments(self) -> list[Json]:
        return await self._list("/configuration/departments")

    async def sources(self) -> list[Json]:
        return await self._list("/configuration/sources")

    async def hiring_processes(self) -> list[Json]:
        return await self._list("/configuration/hiring-processes")

    async def rejection_reasons(self) -> list[Json]:
        return await self._list("/configuration/rejection-reasons")

    async def withdrawal_reasons(self) -> list[Json]:
        return await self._list("/configuration/withdrawal-reasons")

    async def candidate_properties(self) -> list[Json]:
        return await self._list("/configuration/candidate-properties")

    async def job_properties(self) -> list[Json]:
        return await self._list("/configuration/job-properties")
