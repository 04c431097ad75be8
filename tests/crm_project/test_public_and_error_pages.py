"""The customers' front door at /public/ and the 403 / 404 / 500 pages, in both languages."""

import pytest
from django.conf import settings
from django.test import Client

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.crm_project.error_page_urls")]


@pytest.fixture
def zh(client):
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "zh-hans"})
    return client


def test_public_home_offers_the_complaint_form_the_progress_page_and_the_bank_contact(client, settings):
    settings.BANK_NAME_EN = "Harbour Savings Bank"
    settings.BANK_CONTACT_PHONE = "400-123-4567"

    content = client.get("/public/").content.decode()

    assert "Harbour Savings Bank" in content
    assert 'href="/public/complaints/new/"' in content and 'href="/public/complaints/"' in content
    assert "400-123-4567" in content
    # the logo leads back to the public page, never to the staff login or the staff start page
    assert '<a class="navbar-brand" href="/public/">Harbour Savings Bank</a>' in content
    assert "/accounts/login/" not in content
    assert "Bank branch CRM" not in content


def test_public_home_in_chinese_names_the_bank_in_chinese(zh, settings):
    settings.BANK_NAME_ZH = "港湾储蓄银行"

    content = zh.get("/public/").content.decode()

    assert "港湾储蓄银行" in content and "提交投诉" in content and "查询进度" in content
    assert "Submit a complaint" not in content


def test_public_complaint_form_logo_leads_to_the_public_home(client):
    content = client.get("/public/complaints/new/").content.decode()

    assert '<a class="navbar-brand" href="/public/">' in content


def test_404_is_translated_in_the_layout_with_a_way_back(zh):
    response = zh.get("/no-such-page/")

    content = response.content.decode()
    assert response.status_code == 404
    assert "页面不存在" in content and 'lang="zh-hans"' in content
    assert 'href="/public/"' in content  # signed out: back to the customers' page (and a staff login link)
    assert "crm.css" in content  # the site layout


def test_404_for_staff_leads_back_to_the_start_page(client_as):
    client = client_as("rm")

    content = client.get("/customers/no-such-page/").content.decode()

    assert "Page not found" in content and 'href="/"' in content


def test_403_is_translated_in_the_layout(client_as):
    client = client_as("rm")
    client.cookies.load({settings.LANGUAGE_COOKIE_NAME: "zh-hans"})

    response = client.get("/test/refuse/")

    assert response.status_code == 403
    content = response.content.decode()
    assert "无权访问" in content and "返回首页" in content


def test_500_is_in_the_layout_with_a_way_back(db):
    client = Client(raise_request_exception=False)

    response = client.get("/public/test/boom/")

    assert response.status_code == 500
    content = response.content.decode()
    assert "Something went wrong" in content and 'href="/public/"' in content


def test_favicon_is_served(client):
    response = client.get("/favicon.ico")

    assert response.status_code == 301 and response["Location"].endswith("favicon.svg")
