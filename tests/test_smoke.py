from conftest import ORGANIZER_EMAIL


def test_admin_login_then_dashboard_shows_the_gala(client, logged_in, small_gala):
    page = client.get("/admin/").get_data(as_text=True)
    assert "Gala Złotych Lajków 2026" in page
    assert "TikTok roku" in page
    assert ORGANIZER_EMAIL  # fixture sanity


def test_demo_gala_in_api(client, demo_gala):
    body = client.get("/api/v1/gala").get_json()
    assert len(body["categories"]) == 10  # 8 voted on, 2 decided by the chapter
