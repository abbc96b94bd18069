"""Sending the portal's emails from templates: ``<name>_subject.txt`` and ``<name>_body.txt``."""

from __future__ import annotations

import smtplib
import socket

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

# Connection trouble and SMTP refusals are worth another try; template or data bugs are not.
TRANSIENT_MAIL_ERRORS = (smtplib.SMTPException, ConnectionError, TimeoutError, socket.gaierror)
MAIL_RETRY = {
    "autoretry_for": TRANSIENT_MAIL_ERRORS,
    "retry_backoff": 30,
    "retry_backoff_max": 30 * 60,
    "retry_jitter": True,
    "max_retries": 8,
}


def send_templated(*, template: str, to: list[str], context: dict) -> None:
    """Render ``<template>_subject.txt`` (one line, prefixed) and ``<template>_body.txt``
    and send them to ``to``."""
    subject = render_to_string(f"{template}_subject.txt", context)
    body = render_to_string(f"{template}_body.txt", context)
    subject = settings.ACCOUNT_EMAIL_SUBJECT_PREFIX + " ".join(subject.split())
    EmailMessage(subject=subject, body=body, to=to).send()
