import shutil
import subprocess
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from parcours.work.diagrams import flow_file_stem, flow_markdown, flow_svg
from parcours.work.flows import FLOWS
from workflows.diagrams import to_dot, to_markdown
from workflows.transitions import MACHINES


class Command(BaseCommand):
    requires_system_checks = []
    help = (
        "Write the state diagrams (Graphviz DOT; SVG into static/workflows/ when `dot` is installed, shown by the "
        "Circuits page), the transition table, and the work-layer flow graphs (SVG drawn by viewflow) with their "
        "task table."
    )

    def add_arguments(self, parser):
        parser.add_argument("--output", default=str(Path(settings.BASE_DIR) / "docs" / "workflows"))
        parser.add_argument("--check", action="store_true", help="Fail if the committed files are out of date.")

    def handle(self, *args, output, check, **options):
        out = Path(output)
        files = {f"{m}.dot": to_dot(m) for m in MACHINES}
        files["transitions.md"] = to_markdown()
        files.update({f"{flow_file_stem(f)}.svg": flow_svg(f) for f in FLOWS})
        files["flows.md"] = flow_markdown(FLOWS)
        if check:
            stale = [
                name
                for name, text in files.items()
                if not (out / name).exists() or (out / name).read_text(encoding="utf-8") != text
            ]
            if stale:
                raise CommandError(f"Diagrammes pas à jour : {', '.join(stale)}. Lancez `make diagrams`.")
            self.stdout.write("Diagrammes à jour.")
            return
        dot = shutil.which("dot")
        svg_dir = Path(settings.BASE_DIR) / "static" / "workflows"
        try:  # a developer's command: on a server, the source tree is not the service user's to write
            out.mkdir(parents=True, exist_ok=True)
            for name, text in files.items():
                (out / name).write_text(text, encoding="utf-8")
            svg_dir.mkdir(parents=True, exist_ok=True)
            for machine in MACHINES:
                if dot:
                    subprocess.run(
                        [dot, "-Tsvg", str(out / f"{machine}.dot"), "-o", str(svg_dir / f"{machine}.svg")], check=True
                    )
        except OSError as exc:
            raise CommandError(
                f"Diagrammes non écrits ({exc.strerror} : {exc.filename}). `--check` compare sans rien écrire."
            ) from exc
        hint = "" if dot else " (installez graphviz pour les SVG)"
        self.stdout.write(f"{len(files)} fichiers écrits dans {out}{hint}")
