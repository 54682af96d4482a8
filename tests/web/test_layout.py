"""The base layout: phone-friendly, no outside resources, CSRF tokens in every form, role-based navigation."""

import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.urls import reverse

from tests.web.conftest import login

pytestmark = pytest.mark.django_db


def test_it_serves_a_phone_friendly_page_with_our_own_stylesheet(client):
    content = client.get(reverse("web:login")).content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in content
    assert '<link rel="stylesheet" href="/static/web/portal.css">' in content
    assert not re.search(r'(src|href)="(https?:)?//', content), "pages must load nothing from other hosts"


def test_it_ships_a_stylesheet_that_lets_tables_scroll_on_small_screens():
    css = Path(finders.find("web/portal.css")).read_text()
    assert re.search(r"\.table-wrap\s*{[^}]*overflow-x:\s*auto", css)
    assert "@import" not in css and "url(" not in css


@pytest.mark.parametrize(
    ("role", "present", "absent"),
    [
        ("owner", ["call_list", "application_list"], ["review_list", "staff_home"]),
        ("reviewer", ["review_list"], ["staff_home"]),
        ("staff", ["staff_home"], ["review_list"]),
    ],
)
def test_it_shows_navigation_by_role(client, request, role, present, absent):
    login(client, request.getfixturevalue(role))
    nav = client.get(reverse("web:home")).content.decode().split("</nav>")[0]
    for name in present:
        assert f'href="{reverse(f"web:{name}")}"' in nav
    for name in absent:
        assert f'href="{reverse(f"web:{name}")}"' not in nav


def test_it_puts_a_csrf_token_in_every_post_form(client, staff, owner, teammate, reviewed, allocation, draft):
    pages = {
        owner: [
            reverse("web:organisation_detail", kwargs={"public_id": draft.organisation.public_id}),
            reverse("web:application_detail", kwargs={"public_id": draft.public_id}),
            reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id}),
        ],
        staff: [
            reverse("web:application_detail", kwargs={"public_id": reviewed.public_id}),
            reverse("web:allocation_detail", kwargs={"public_id": allocation.public_id}),
            reverse("web:staff_home"),
            reverse("web:staff_organisation_list"),
            reverse("web:staff_call_create"),
        ],
    }
    forms_seen = 0
    for user, urls in pages.items():
        login(client, user)
        for url in urls:
            content = client.get(url).content.decode()
            forms = re.findall(r"<form[^>]*>.*?</form>", content, flags=re.S)
            post_forms = [form for form in forms if 'method="post"' in form]
            forms_seen += len(post_forms)
            for form in post_forms:
                assert 'name="csrfmiddlewaretoken"' in form, f"{url}: {form[:120]}"
    assert forms_seen >= 15


def test_it_shows_a_friendly_not_found_page(client, owner):
    response = login(client, owner).get("/applications/00000000-0000-0000-0000-000000000000/")
    assert response.status_code == 404
    assert "Not found" in response.content.decode()
