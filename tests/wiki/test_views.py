"""The page view: a current page or blog post rendered for a reader; 404 otherwise."""

import pytest
from django.test import Client
from django.urls import reverse

from tests.wiki.factories import BlogPostFactory, CommentFactory, PageFactory, SpaceFactory, UserFactory
from wiki.models import Content

pytestmark = pytest.mark.django_db


def test_page_shows_its_title_space_body_labels_author_and_comment_count(client: Client) -> None:
    author = UserFactory(first_name="Ada", last_name="Lovelace")
    space = SpaceFactory(key="ENG", name="Engineering")
    page = PageFactory(
        space=space, title="Release plan", body="<p>Ship & <b>test</b></p>", labels=["q4", "release"], creator=author
    )
    PageFactory(parent=page, title="Child page")
    CommentFactory(content=page)
    CommentFactory(content=page)

    response = client.get(reverse("wiki:page", args=[page.pk]))

    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Release plan</h1>" in html
    assert "Engineering" in html and "ENG" in html
    assert "&lt;p&gt;Ship &amp; &lt;b&gt;test&lt;/b&gt;&lt;/p&gt;" in html  # the body is shown, escaped
    assert "<li>q4</li>" in html and "<li>release</li>" in html
    assert "Ada Lovelace" in html
    assert "2 comments" in html
    assert "Child page" in html


def test_blog_post_without_labels_or_comments(client: Client) -> None:
    post = BlogPostFactory(title="Hello", labels=[])
    html = client.get(f"/wiki/pages/{post.pk}/").content.decode()
    assert "No labels" in html
    assert "0 comments" in html
    assert "Blog post by" in html


def test_unknown_page_is_404(client: Client) -> None:
    assert client.get("/wiki/pages/999999/").status_code == 404


@pytest.mark.parametrize("status", [Content.Status.DRAFT, Content.Status.TRASHED, Content.Status.HISTORICAL])
def test_a_page_that_is_not_current_is_404(client: Client, status: str) -> None:
    page = PageFactory(status=status)
    assert client.get(f"/wiki/pages/{page.pk}/").status_code == 404


def test_page_view_takes_a_few_queries(client: Client, django_assert_max_num_queries) -> None:
    page = PageFactory(labels=["a"])
    CommentFactory(content=page)
    with django_assert_max_num_queries(4):
        assert client.get(f"/wiki/pages/{page.pk}/").status_code == 200
