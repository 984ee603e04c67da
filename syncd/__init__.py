"""syncd: keeps a SmartRecruiters tenant and an HRIS in step."""

__version__ = "0.1.0"
