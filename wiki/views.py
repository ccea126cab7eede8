"""The site's own pages: a page or blog post as a reader sees it (the benchmark's page-view workload)."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from .models import Content


def page_view(request: HttpRequest, page_id: int) -> HttpResponse:
    """A current page or blog post: title, space, author, body, labels and how many comments it has."""
    try:
        page = Content.objects.select_related("space", "creator__profile", "last_modifier__profile").get(
            pk=page_id, status=Content.Status.CURRENT
        )
    except Content.DoesNotExist:
        raise Http404(f"No page {page_id}.") from None
    context = {
        "page": page,
        "space": page.space,
        "labels": page.labels if isinstance(page.labels, list) else [page.labels],
        "comment_count": page.comments.count(),
        "children": list(page.children.filter(status=Content.Status.CURRENT).values_list("id", "title")[:20]),
    }
    return render(request, "wiki/page.html", context)
