from conftest import post_form, csrf_token

def main(r):
    t = r.get_data(as_text=True)
    return t[t.find('<main'):t.find('</main>')]

def test_scratch(client, logged_in, small_gala, app):
    base = {"name_pl": "Nowa", "method": "ranked", "places": "2", "points": "5,x", "group_jury": "y", "weight_jury": "100"}
    r = post_form(client, "/admin/categories/new", data=base)
    print(r.status_code); print(main(r))
    base = {"name_pl": "Nowa", "method": "irv", "places": "2", "group_jury": "y", "weight_jury": "50", "group_audience": "y", "weight_audience": "50"}
    r = post_form(client, "/admin/categories/new", data=base)
    print(r.status_code); print(main(r))
    r = post_form(client, "/admin/", "/admin/voting/open", headers={"Referer": "http://localhost/admin/"}, follow_redirects=True)
    print(r.status_code); print(main(r))
    r = client.get(f"/admin/categories/{small_gala['single']}/edit")
    print(main(r))
