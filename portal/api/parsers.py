"""The API's only parser: DRF's JSONParser, with the nesting depth checked before the body is parsed.

DRF reads a JSON body through HttpRequest.body, so DATA_UPLOAD_MAX_MEMORY_SIZE is enforced first
(413 request_too_large); the body is at most that large when its depth is measured here.
"""

import io

from rest_framework import exceptions, parsers

from portal.jsonlimits import JsonTooDeep, check_json_depth


class JsonTooDeepError(exceptions.ParseError):
    default_code = "json_too_deep"


class DepthLimitedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read()
        try:
            text = raw.decode(parsers.get_encoding(parser_context or {}))
        except UnicodeDecodeError:
            text = None  # DRF's parser reports it as the parse error it is
        if text is not None:
            try:
                check_json_depth(text)
            except JsonTooDeep as exc:
                raise JsonTooDeepError(str(exc)) from None
        return super().parse(io.BytesIO(raw), media_type, parser_context)
