"""morec's shell: the typer CLI and the Textual dashboard. Imports morec_core, never the reverse."""
