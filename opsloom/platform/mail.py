"""Sending one e-mail through the SMTP server the settings name (the standard library's client, in a thread)."""

from __future__ import annotations

import asyncio
import smtplib
from email.message import EmailMessage

from opsloom.platform.site_settings import SiteSettings


class MailNotConfigured(Exception):
    """No SMTP server is set."""


def new_message(smtp: SiteSettings, to: list[str], subject: str, text: str) -> EmailMessage:
    mail = EmailMessage()
    mail["Subject"] = subject
    mail["From"] = smtp.smtp_from
    mail["To"] = ", ".join(to)
    mail.set_content(text)
    return mail


async def send_mail(smtp: SiteSettings, mail: EmailMessage, seconds: float) -> None:
    """Send `mail`; OSError or smtplib.SMTPException when the server cannot be reached or refuses it."""
    if not smtp.smtp_host:
        raise MailNotConfigured("no SMTP server is configured")
    await asyncio.to_thread(_send, smtp, mail, seconds)


def _send(smtp: SiteSettings, mail: EmailMessage, timeout: float) -> None:
    with smtplib.SMTP(smtp.smtp_host, smtp.smtp_port, timeout=timeout) as client:
        if smtp.smtp_starttls:
            client.starttls()
        if smtp.smtp_username:
            client.login(smtp.smtp_username, smtp.smtp_password)
        client.send_message(mail)
