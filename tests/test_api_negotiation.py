"""portal.api.negotiation answers `Accept: */*` (or none) as DRF's own negotiation does, and
leaves every other request to it."""

from __future__ import annotations

import pytest
from rest_framework import renderers as drf_renderers
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.test import APIRequestFactory

from portal.api import renderers
from portal.api.negotiation import ContentNegotiation

RENDERER_LISTS = [
    [renderers.JSONRenderer(), drf_renderers.BrowsableAPIRenderer()],
    [drf_renderers.BrowsableAPIRenderer(), renderers.JSONRenderer()],
    [drf_renderers.TemplateHTMLRenderer(), renderers.JSONRenderer()],
    [drf_renderers.StaticHTMLRenderer()],
]
ACCEPTS = [
    None,
    "*/*",
    "application/json",
    "text/html",
    "application/json; indent=4",
    "text/html;q=0.5, application/json",
    "*/*;q=0.8",
    "application/*",
    "image/png",
]
QUERIES = ["", "?format=json", "?format=api", "?format=", "?page=2"]


def answer(negotiation, renderer_list, accept, query, suffix=None):
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}
    request = Request(APIRequestFactory().get(f"/api/x{query}", **headers))
    try:
        renderer, media_type = negotiation.select_renderer(request, renderer_list, suffix)
    except Exception as exc:
        return type(exc).__name__
    return type(renderer).__name__, media_type


@pytest.mark.parametrize("renderer_list", RENDERER_LISTS, ids=lambda r: type(r[0]).__name__)
@pytest.mark.parametrize("accept", ACCEPTS)
@pytest.mark.parametrize("query", QUERIES)
def test_same_answer_as_drfs_negotiation(renderer_list, accept, query):
    assert answer(ContentNegotiation(), renderer_list, accept, query) == answer(
        DefaultContentNegotiation(), renderer_list, accept, query
    )


@pytest.mark.parametrize("suffix", ["json", "api"])
def test_a_format_suffix_is_drfs_to_decide(suffix):
    renderer_list = RENDERER_LISTS[0]
    assert answer(ContentNegotiation(), renderer_list, None, "", suffix) == answer(
        DefaultContentNegotiation(), renderer_list, None, "", suffix
    )


def test_the_plain_request_skips_the_parsing(monkeypatch):
    """The fast answer is taken (else the class would only cost): DRF's parser is not called
    for `*/*`, and is for anything else."""
    called = []
    real = DefaultContentNegotiation.select_renderer

    def counting(self, *args, **kwargs):
        called.append(args)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(DefaultContentNegotiation, "select_renderer", counting)
    assert answer(ContentNegotiation(), RENDERER_LISTS[0], "*/*", "") == (
        "JSONRenderer",
        "application/json",
    )
    assert called == []
    answer(ContentNegotiation(), RENDERER_LISTS[0], "text/html", "")
    assert len(called) == 1


def test_the_api_uses_it():
    assert api_settings.DEFAULT_CONTENT_NEGOTIATION_CLASS is ContentNegotiation
