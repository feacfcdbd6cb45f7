"""The demo's e-mail backend: each message printed as a person reads it (headers decoded), not as MIME source."""

from django.core.mail.backends.console import EmailBackend as ConsoleBackend


class EmailBackend(ConsoleBackend):
    def write_message(self, message):
        self.stream.write(
            f"Courriel à : {', '.join(message.to)}\nDe : {message.from_email}\nObjet : {message.subject}\n\n"
            f"{message.body}\n{'-' * 79}\n"
        )
