"""Which writer renders which format. Apart from the package's shared helpers so that
writers import those, and this module imports writers: no circle."""

from __future__ import annotations

from vulnsweep.output import OutputOptions, Writer


def writer_for(fmt: str, options: OutputOptions) -> Writer:
    """Import only the writer asked for: start-up stays cheap."""
    if fmt == "json":
        from vulnsweep.output.json import JsonWriter

        return JsonWriter(options)
    if fmt == "markdown":
        from vulnsweep.output.markdown import MarkdownWriter

        return MarkdownWriter(options)
    if fmt == "ndjson":
        from vulnsweep.output.ndjson import NdjsonWriter

        return NdjsonWriter(options)
    if fmt == "sarif":
        from vulnsweep.output.sarif import SarifWriter

        return SarifWriter(options)
    if fmt == "html":
        from vulnsweep.output.html import HtmlWriter

        return HtmlWriter(options)
    if fmt == "openvex":
        from vulnsweep.output.openvex import OpenVexWriter

        return OpenVexWriter(options)
    if fmt.startswith("cyclonedx-"):
        from vulnsweep.output.cyclonedx import CycloneDxWriter

        return CycloneDxWriter(options, xml=fmt.endswith("xml"))
    from vulnsweep.output.columns import ColumnsWriter

    return ColumnsWriter(options)
