"""A SmartRecruiters-compatible sandbox server.

Never imported by syncd's runtime path, and it imports nothing from ``syncd.ats``: a misreading of
the API must not hide in both the client and its oracle.
"""
