"""Pages in Korean when the browser asks for it, in English otherwise, and the header's switcher."""

import re
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from portal.accounts.models import User
from portal.notifications.models import Notification
from portal.web.templatetags.portal_tags import action_label, audit_state_label, krw
from tests.web.conftest import shows

pytestmark = pytest.mark.django_db

KOREAN = {"HTTP_ACCEPT_LANGUAGE": "ko-KR,ko;q=0.9,en;q=0.5"}


def test_it_shows_the_login_page_in_english_by_default(client):
    response = client.get(reverse("web:login"))
    assert '<html lang="en">' in response.content.decode()
    assert shows(response, "Log in") and not shows(response, "로그인")


def test_it_shows_the_login_page_in_korean_when_the_browser_asks(client):
    response = client.get(reverse("web:login"), **KOREAN)
    page = response.content.decode()
    assert '<html lang="ko">' in page
    assert "로그인" in page and "회원가입" in page and "본문 바로가기" in page
    assert response["Content-Language"] == "ko"


@pytest.mark.parametrize(
    ("name", "korean"),
    [("web:home", "님, 환영합니다"), ("web:allocation_list", "배정"), ("web:job_list", "작업 제출")],
)
def test_it_shows_signed_in_pages_in_korean(client, owner, allocation, name, korean):
    client.force_login(owner)
    english = client.get(reverse(name))
    assert english.status_code == 200 and '<html lang="en">' in english.content.decode()
    response = client.get(reverse(name), **KOREAN)
    assert response.status_code == 200
    assert '<html lang="ko">' in response.content.decode() and korean in response.content.decode()


def test_it_writes_dates_the_korean_way_in_korean(client, owner, allocation):
    client.force_login(owner)
    url = reverse("web:allocation_detail", args=[allocation.public_id])
    start = allocation.starts_on
    assert start.strftime("%Y-%m-%d") in client.get(url).content.decode()
    korean_date = f"{start.year}년 {start.month}월 {start.day}일"
    assert korean_date in client.get(url, **KOREAN).content.decode()


def test_it_switches_language_from_the_header_and_remembers_it(client, owner):
    client.force_login(owner)
    response = client.post(reverse("web:set_language"), {"language": "ko", "next": reverse("web:home")})
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    page = client.get(reverse("web:home")).content.decode()  # no Accept-Language: the cookie decides
    assert '<html lang="ko">' in page and "언어 변경" in page
    assert ">English</option>" in page  # each language offered in its own name
    owner.refresh_from_db()
    assert owner.language == "ko"  # what their emails are written in from now on

    client.post(reverse("web:set_language"), {"language": "en", "next": reverse("web:home")})
    assert '<html lang="en">' in client.get(reverse("web:home"), **KOREAN).content.decode()


def test_it_lets_anonymous_visitors_switch_and_ignores_unknown_languages(client):
    client.post(reverse("web:set_language"), {"language": "ko", "next": reverse("web:login")})
    assert '<html lang="ko">' in client.get(reverse("web:login")).content.decode()
    client.post(reverse("web:set_language"), {"language": "xx", "next": reverse("web:login")})
    assert '<html lang="ko">' in client.get(reverse("web:login")).content.decode()


def test_it_refuses_a_switch_that_would_redirect_off_site(client):
    response = client.post(reverse("web:set_language"), {"language": "ko", "next": "https://evil.example/"})
    assert response.status_code == 302 and "evil.example" not in response["Location"]


def test_it_records_the_sign_up_language_for_emails(client):
    response = client.post(
        reverse("web:signup"), {"email": "min@example.test", "full_name": "Min Park"}, **KOREAN
    )
    assert response.status_code == 302
    # The link that finishes the sign-up is written in Korean, and carries the language to the account.
    notification = Notification.objects.get(to_email="min@example.test")
    assert "비밀번호" in notification.body
    link = urlsplit(re.search(r"https?://\S+", notification.body).group(0)).path
    response = Client().post(link, {"password1": "a-long-enough-pass", "password2": "a-long-enough-pass"})
    assert response.status_code == 302
    assert User.objects.get(email="min@example.test").language == "ko"


@pytest.mark.parametrize("language", ["en", "ko"])
def test_it_writes_won_the_same_way_in_both_languages(language):
    with translation.override(language):
        assert krw(1234567) == "₩1,234,567"


def test_it_names_audit_actions_and_states_in_korean_and_leaves_english_as_it_was():
    with translation.override("en"):
        assert action_label("reviewer_assigned") == "Reviewer assigned"
        assert audit_state_label("under_review") == "under_review"
        assert action_label("something_new") == "Something new"
    with translation.override("ko"):
        assert action_label("reviewer_assigned") == "심사위원 배정"
        assert audit_state_label("under_review") == "심사 중"


def test_it_refuses_a_wrong_password_in_korean(client, owner):
    response = client.post(reverse("web:login"), {"username": owner.email, "password": "wrong"}, **KOREAN)
    assert response.status_code == 200 and "올바른 이메일" in response.content.decode()
