"""A locked category's form, as a browser sends it: disabled rule fields are left out."""

from conftest import post_form

from voting import services
from voting.extensions import db
from voting.models import Category


def test_locked_category_form_still_renames_without_the_disabled_fields(app, client, logged_in,
                                                                       small_gala):
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
    page = f"/admin/categories/{small_gala['ranked']}/edit"
    html = client.get(page).get_data(as_text=True)
    assert "<fieldset disabled>" in html
    response = post_form(client, page, data={
        "name_pl": "Wideo roku w metropolii", "name_en": "Video of the year",
        "description_pl": "", "description_en": ""})
    assert response.status_code == 302, response.get_data(as_text=True)
    with app.app_context():
        category = db.session.get(Category, small_gala["ranked"])
        assert category.name_pl == "Wideo roku w metropolii"
        assert (category.method, category.places, category.points) == ("ranked", 2, [3, 1])
        assert category.weights() == {"jury": 100}


def test_locked_category_form_refuses_a_method_change_from_a_stale_page(app, client, logged_in,
                                                            small_gala):
    with app.app_context():
        services.open_voting("test", small_gala["gala"])
    page = f"/admin/categories/{small_gala['single']}/edit"
    response = post_form(client, page, data={
        "name_pl": "TikTok roku", "method": "approval", "slug": "inny-adres",
        "group_jury": "y", "weight_jury": "100"})
    assert response.status_code == 409  # a page loaded before opening: refused, and said why
    assert "zablokowane na stałe" in response.get_data(as_text=True)
    with app.app_context():
        category = db.session.get(Category, small_gala["single"])
        assert category.method == "single"
        assert category.slug == "tiktok-roku"
        assert category.weights() == {"audience": 100}
