"""Errors the storage layer raises on purpose, each with a stable snake_case code for the pages
and the CLI. Messages name identities and ids, never personal data."""

from __future__ import annotations


class StorageError(Exception):
    code = "storage_error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(StorageError):
    code = "not_found"


class AlreadyExists(StorageError):
    code = "already_exists"


class InvalidValue(StorageError, ValueError):
    code = "invalid_value"


class InvalidRecordState(StorageError):
    """The record is not in a state that allows this (a rating before the call ended)."""

    code = "invalid_record_state"


class EnrolmentError(StorageError):
    """An enrolment code or claim that is unknown, used, or expired; `code` says which."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class DatabaseNotUpgraded(StorageError):
    code = "database_not_upgraded"
