"""Reports reconcile with the ledger on a seeded history; they render to csv, json
and pdf saying the same; and each actor sees only what it may."""

from __future__ import annotations

import csv
import io
import json
import re
import uuid
from datetime import date, timedelta
from zoneinfo import ZoneInfo

import pypdfium2
import pytest

from hub.access import COUPONS_READ, REPORTS_READ, STATEMENT_READ, Actor
from hub.adapters.pdf.report import to_pdf
from hub.errors import InvalidRequest, NotAuthorized
from hub.ids import format_coupon_id
from hub.ledger import Ledger
from hub.ledger.chart import CLEARING, company_account, office_account
from hub.reports.csvout import EXCEL_PL, RFC4180
from hub.reports.render import render as render_report
from hub.reports.render import to_csv, to_json
from hub.reports.scope import ReportQuery
from tests.support.factories import NIP, OPERATOR, OTHER_NIP, company_actor, funded_company, issue
from tests.support.reports import KRAKOW, WARSZAWA, Seeded, pdf_pages, seed


def render(report, fmt: str, csv_dialect: str = EXCEL_PL) -> bytes:
    """As the report service renders (hub.reports.service.ReportService.render)."""
    return render_report(report, fmt, csv_dialect, pdf=to_pdf)


@pytest.fixture
def seeded(hub, clock) -> Seeded:
    return seed(hub, clock)


def run(hub, name, actor=OPERATOR, **query):
    return hub.reports.run(name, actor, ReportQuery(**query))


def ledger_balance(hub, code):
    with hub.db.read() as s:
        return Ledger(s).balance(code)


# -- reconciliation with the ledger ----------------------------------------


def test_open_holds_equal_each_companys_held_balance_and_clearings_pending(hub, seeded):
    report = run(hub, "open-holds")
    by_nip = {r["nip"]: r for r in report.rows}
    assert set(by_nip) == {NIP, OTHER_NIP}
    for nip, row in by_nip.items():
        assert row["held"] == row["ledger_held"] == ledger_balance(hub, company_account(nip)).held
        assert row["difference"] == 0
    # a2[1] PJ_B 100.50 and a3 2 x WORD_TEORIA 50.00; b2 2 x PJ_B 100.50
    assert (by_nip[NIP]["coupons"], by_nip[NIP]["held"]) == (3, 100_50 + 2 * 50_00)
    assert (by_nip[OTHER_NIP]["coupons"], by_nip[OTHER_NIP]["held"]) == (2, 2 * 100_50)
    clearing = ledger_balance(hub, CLEARING).credits_pending
    assert report.totals["held"] == clearing == 401_50
    assert {f.key: f.value for f in report.figures} == {"clearing_pending": clearing}


def test_redemptions_net_equals_the_offices_ledger_accounts(hub, seeded):
    report = run(hub, "redemptions")
    for office in (WARSZAWA, KRAKOW):
        net = sum(r["net"] for r in report.rows if r["office"] == office)
        assert net == _office_balance(hub, office)
    assert report.totals == {
        "redemptions": 6,
        "captured": 161_50 + 100_00 + 121_50 + 121_50 + 161_50 + 100_50,
        "reversals": 1,
        "reversed": 161_50,
        "net": 605_00,
    }
    first = {r["office"]: r for r in report.rows if r["day"] == seeded.days["first"]}
    assert (first[WARSZAWA]["redemptions"], first[WARSZAWA]["captured"]) == (2, 161_50 + 121_50)
    assert (first[KRAKOW]["redemptions"], first[KRAKOW]["captured"]) == (1, 100_00)  # the partial redemption
    second_warszawa = next(r for r in report.rows if r["day"] == seeded.days["second"] and r["office"] == WARSZAWA)
    assert (second_warszawa["reversals"], second_warszawa["reversed"], second_warszawa["net"]) == (1, 161_50, -161_50)
    assert {r["office_name"] for r in report.rows if r["office"] == WARSZAWA} == {
        "Wydział Komunikacji Urzędu m.st. Warszawy"
    }


def _office_balance(hub, office):
    """What the office has earned on the ledger: credits (captures) less debits (reversals)."""
    b = ledger_balance(hub, office_account(office))
    return b.credits_posted - b.debits_posted


def test_redemptions_by_business_day_and_the_chart_of_coupons_used(hub, seeded):
    d = seeded.days
    report = run(hub, "redemptions", date_from=d["first"], date_to=d["second"])
    assert {r["day"] for r in report.rows} == {d["first"], d["second"]}
    assert report.totals["redemptions"] == 4 and report.totals["reversals"] == 1
    assert report.chart.labels == (d["first"].isoformat(), d["second"].isoformat())
    assert report.chart.values == (3, 1)

    whole = run(hub, "redemptions")
    assert len(whole.chart.labels) == (d["last"] - d["first"]).days + 1  # days without any are bars of 0
    assert sum(whole.chart.values) == 6 and whole.chart.values[-1] == 1

    one_office = run(hub, "redemptions", office=KRAKOW, date_from=d["third"], date_to=d["third"])
    assert [(r["office"], r["redemptions"], r["captured"]) for r in one_office.rows] == [(KRAKOW, 1, 161_50)]


def test_trial_balance_sums_to_zero(hub, seeded):
    report = run(hub, "trial-balance")
    with hub.db.read() as s:
        Ledger(s).verify()
        codes = {code for code, _, _ in Ledger(s).trial_balance()}
    assert {r["account"] for r in report.rows} == codes
    assert {
        company_account(NIP),
        company_account(OTHER_NIP),
        CLEARING,
        office_account(WARSZAWA),
        office_account(KRAKOW),
    } <= codes
    t = report.totals
    assert t["balance"] == 0 and t["debits"] == t["credits"] > 0
    assert t["debits_pending"] == t["credits_pending"] == 401_50


def test_coupon_register_rows_and_grouped_totals(hub, seeded):
    report = run(hub, "coupons")
    assert len(report.rows) == 5 + 3 + 2 + 2 + 2
    by_id = {format_coupon_id(r["coupon_id"]): r for r in report.rows}
    partial = by_id[seeded.coupons["a1_1"]]
    assert (partial["status"], partial["amount"], partial["captured"], partial["office"]) == (
        "REDEEMED",
        161_50,
        100_00,
        KRAKOW,
    )
    again = by_id[seeded.coupons["a1_0"]]  # reversed at Warszawa, then redeemed at Kraków
    assert (again["status"], again["office"], again["captured"]) == ("REDEEMED", KRAKOW, 161_50)
    assert by_id[seeded.coupons["a1_2"]]["status"] == "CANCELLED"

    groups = {g.key: {row[g.key]: row for row in g.rows} for g in report.groups}
    assert {k: v["coupons"] for k, v in groups["status"].items()} == {
        "CANCELLED": 1,
        "EXPIRED": 3,
        "ISSUED": 5,
        "REDEEMED": 5,
    }
    issued = groups["status"]["ISSUED"]
    assert issued["amount"] == run(hub, "open-holds").totals["held"]
    assert (
        groups["status"]["REDEEMED"]["captured"] == report.totals["captured"] == run(hub, "redemptions").totals["net"]
    )
    assert {k: v["coupons"] for k, v in groups["case_type"].items()} == {
        "PJ_B": 4,
        "REJ_MOT": 3,
        "REJ_NEW": 5,
        "WORD_TEORIA": 2,
    }
    assert groups["issued_by"]["user:anna@5260250274"]["coupons"] == 2
    assert groups["issued_by"]["user:ewa@7740001454"]["amount"] == 3 * 121_50
    assert {k: v["coupons"] for k, v in groups["office"].items()} == {KRAKOW: 3, WARSZAWA: 2, None: 9}
    assert sum(g["amount"] for g in groups["office"].values()) == report.totals["amount"]


def test_coupon_register_filters(hub, seeded):
    only = run(hub, "coupons", nip=OTHER_NIP, status="REDEEMED")
    assert {r["nip"] for r in only.rows} == {OTHER_NIP} and len(only.rows) == 2
    assert len(run(hub, "coupons", case_type="PJ_B").rows) == 4
    assert len(run(hub, "coupons", issued_by="user:anna@5260250274").rows) == 2
    assert {r["office"] for r in run(hub, "coupons", office=WARSZAWA).rows} == {WARSZAWA}
    first_day = run(hub, "coupons", date_from=seeded.start, date_to=seeded.start)
    assert len(first_day.rows) == 8  # a1 and b1


def test_expiring_lists_issued_coupons_ending_within_seven_days(hub, seeded):
    report = run(hub, "expiring")
    ids = {format_coupon_id(r["coupon_id"]) for r in report.rows}
    assert seeded.coupons["a3_0"] in ids and seeded.coupons["b2_0"] in ids
    assert seeded.coupons["a2_1"] not in ids  # 84 more days
    assert len(report.rows) == 4 and report.totals["amount"] == 2 * 50_00 + 2 * 100_50
    companies = {row["nip"]: row for row in report.groups[0].rows}
    assert companies[OTHER_NIP]["company"] == "Flota Kraków Sp. z o.o." and companies[OTHER_NIP]["coupons"] == 2
    assert all(r["expires_on"] <= seeded.days["last"] + timedelta(days=7) for r in report.rows)


# -- who may read what ------------------------------------------------------


def test_a_viewer_without_reports_read_is_refused(hub, seeded):
    viewer = Actor("user:jan@5260250274", permissions=frozenset({COUPONS_READ, STATEMENT_READ}), company_nip=NIP)
    for name in ("coupons", "redemptions"):
        with pytest.raises(NotAuthorized, match="reports:read"):
            run(hub, name, viewer)
    reader = Actor("user:ola@5260250274", permissions=frozenset({REPORTS_READ}), company_nip=NIP)
    assert {r["nip"] for r in run(hub, "coupons", reader).rows} == {NIP}


def test_a_company_sees_only_its_own_coupons_and_no_operator_reports(hub, seeded):
    own = company_actor(NIP)
    mine = run(hub, "coupons", own)
    assert {r["nip"] for r in mine.rows} == {NIP} and len(mine.rows) == 9
    with pytest.raises(NotAuthorized, match=OTHER_NIP):
        run(hub, "coupons", own, nip=OTHER_NIP)
    with pytest.raises(NotAuthorized, match=OTHER_NIP):
        run(hub, "redemptions", own, nip=OTHER_NIP)
    redemptions = run(hub, "redemptions", own)
    assert redemptions.totals["redemptions"] == 4  # a1[0] twice, a1[1], a2[0]; none of the other company's
    assert redemptions.totals["net"] == 100_00 + 161_50 + 100_50
    for name in ("open-holds", "expiring", "trial-balance"):
        with pytest.raises(NotAuthorized, match="operator"):
            run(hub, name, own)


def test_an_office_sees_its_own_redemptions_only(hub, seeded):
    krakow = Actor("user:kasia@1261", permissions=frozenset({REPORTS_READ}), offices=frozenset({KRAKOW}))
    report = run(hub, "redemptions", krakow)
    assert {r["office"] for r in report.rows} == {KRAKOW} and report.totals["redemptions"] == 3
    with pytest.raises(NotAuthorized, match=WARSZAWA):
        run(hub, "redemptions", krakow, office=WARSZAWA)
    with pytest.raises(NotAuthorized):
        run(hub, "coupons", krakow)


@pytest.mark.parametrize(
    "name,query,message",
    [
        ("nope", {}, "there is no report 'nope'"),
        ("trial-balance", {"date_from": date(2026, 3, 1)}, "takes no --from"),
        ("redemptions", {"status": "ISSUED"}, "takes no --status"),
        (
            "coupons",
            {"date_from": date(2026, 3, 2), "date_to": date(2026, 3, 1)},
            "--from 2026-03-02 is after --to 2026-03-01",
        ),
        ("coupons", {"nip": "5260250275"}, "NIP '5260250275' is not valid"),
        ("coupons", {"status": "USED"}, "--status 'USED' is not a coupon status"),
        ("coupons", {"case_type": "NOPE"}, "Unknown case type 'NOPE'"),
        ("redemptions", {"office": "9999"}, "Unknown office code '9999'"),
    ],
)
def test_bad_options_are_named(hub, name, query, message):
    with pytest.raises(InvalidRequest, match=message.replace("(", r"\(")):
        run(hub, name, **query)


# -- one report, three formats ------------------------------------------------


def test_csv_parses_back_to_the_same_numbers_as_json(hub, seeded):
    for name in ("coupons", "redemptions", "open-holds", "trial-balance", "expiring"):
        report = run(hub, name)
        as_json = json.loads(render(report, "json"))
        rows = list(csv.DictReader(io.StringIO(render(report, "csv", RFC4180).decode("utf-8"))))
        assert rows and len(rows) == len(as_json["rows"])
        assert list(rows[0]) == [c["key"] for c in as_json["columns"]]
        for from_csv, from_json in zip(rows, as_json["rows"], strict=True):
            assert from_csv == {k: "" if v is None else str(v) for k, v in from_json.items()}


def test_json_writes_amounts_as_text_and_ids_canonically(hub, seeded):
    body = to_json(run(hub, "coupons", nip=NIP, status="REDEEMED"))
    partial = next(r for r in body["rows"] if r["coupon_id"] == seeded.coupons["a1_1"])
    assert (partial["amount"], partial["captured"], partial["office"]) == ("161.50", "100.00", KRAKOW)
    assert partial["issued_at"].endswith("Z") and partial["redeemed_at"].endswith("Z")
    assert body["totals"] == {"coupons": 3, "amount": "423.50", "captured": "362.00"}
    assert body["groups"]["status"] == [{"status": "REDEEMED", "coupons": 3, "amount": "423.50", "captured": "362.00"}]
    assert body["parameters"] == {"nip": NIP, "status": "REDEEMED"}
    tb = to_json(run(hub, "trial-balance"))
    assert tb["totals"]["balance"] == "0.00"
    assert "161.50" in to_csv(run(hub, "coupons"), RFC4180)


def test_the_redemptions_pdf_has_the_table_and_a_chart_page(hub, seeded):
    pages = pdf_pages(render(run(hub, "redemptions"), "pdf"))
    assert len(pages) >= 2
    assert "Wykorzystanie kuponów w urzędach" in pages[0]
    assert "Wydział Komunikacji Urzędu m.st. Warszawy" in pages[0] and "Zwrócono" in pages[0] and "Razem" in pages[0]
    assert "605,00" in pages[0]  # the net total, as printed in Polish
    assert "Kupony wykorzystane dziennie" in pages[-1] and "liczba kuponów" in pages[-1]
    pdf = pypdfium2.PdfDocument(render(run(hub, "redemptions"), "pdf"))
    bars = [o for o in pdf[len(pdf) - 1].get_objects() if o.type == pypdfium2.raw.FPDF_PAGEOBJ_PATH]
    assert len(bars) >= 4  # the chart is drawn: axes and the bars of the days with redemptions
    pdf.close()


def test_a_long_register_breaks_across_pages_with_the_header_repeated(hub, clock, seeded):
    funded_company(hub, 50000_00, nip="1132853869", name="Auto Łódź S.A.")
    many = issue(hub, 150, nip="1132853869", case_type="WORD_TEORIA")
    pages = pdf_pages(render(run(hub, "coupons"), "pdf"))
    table_pages = [p for p in pages if "Ważny do" in p]
    assert len(table_pages) >= 3
    assert all("Kupon" in p and "Wystawił" in p for p in table_pages)  # the header on every page
    text = "".join(pages)
    assert many.coupons[-1].coupon_id in text and seeded.coupons["a1_1"] in text
    assert "Rejestr kuponów" in pages[0] and "Według rodzaju sprawy" in text and "Razem" in text
    assert "Flota Kraków" not in text  # the register names companies by NIP
    assert "Strona 2" in pages[1]


def test_an_empty_report_still_renders(hub):
    report = run(hub, "redemptions")
    assert report.rows == () and report.chart is None
    assert "Brak pozycji" in pdf_pages(render(report, "pdf"))[0]
    assert to_csv(report, RFC4180) == "office,office_name,day,redemptions,captured,reversals,reversed,net\r\n"


# -- the statement, from hub.companies ------------------------------------------


def test_statement_closing_balance_is_the_ledgers_available_balance(hub, seeded):
    for nip in (NIP, OTHER_NIP):
        report = run(hub, "statement", nip=nip, date_from=seeded.start, date_to=seeded.days["last"])
        figures = {f.key: f.value for f in report.figures}
        available = ledger_balance(hub, company_account(nip)).available
        assert figures == {"opening": 0, "closing": available}
        assert report.rows[-1]["balance"] == available == hub.companies.account(nip, actor=OPERATOR).available_grosze
        assert report.totals["amount"] == available - figures["opening"]
    kinds = [
        r["kind"]
        for r in run(hub, "statement", nip=OTHER_NIP, date_from=seeded.days["third"], date_to=seeded.days["third"]).rows
    ]
    assert kinds == ["ADJUSTMENT"]  # the manual credit


def test_statement_defaults_to_this_month_and_to_the_actors_company(hub, seeded):
    report = run(hub, "statement", company_actor(NIP))
    assert report.parameters == {"from": "2026-06-01", "to": seeded.days["last"].isoformat(), "nip": NIP}
    assert {f.key: f.value for f in report.figures}["closing"] == ledger_balance(hub, company_account(NIP)).available
    captured = [(r["amount"], format_coupon_id(r["coupon_id"])) for r in report.rows if r["kind"] == "CAPTURE"]
    assert captured == [(-100_50, seeded.coupons["a2_0"])]  # redeemed today
    with pytest.raises(NotAuthorized, match=OTHER_NIP):
        run(hub, "statement", company_actor(NIP), nip=OTHER_NIP)
    with pytest.raises(NotAuthorized, match="statement:read"):
        run(hub, "statement", Actor("user:ola@5260250274", permissions=frozenset({REPORTS_READ}), company_nip=NIP))
    with pytest.raises(InvalidRequest, match="needs --nip"):
        run(hub, "statement")


def test_statement_pdf_and_csv(hub, seeded):
    report = run(hub, "statement", nip=NIP, date_from=seeded.start, date_to=seeded.days["first"])
    pages = pdf_pages(render(report, "pdf"))
    text = "".join(pages)
    assert "Wyciąg z rachunku: Leasing Polska S.A." in text and "Saldo po operacji" in text
    assert seeded.coupons["a1_1"] in text and "Saldo dostępne na koniec 11.03.2026" in text
    rows = list(csv.DictReader(io.StringIO(to_csv(report, RFC4180))))
    assert rows[0]["kind"] == "ADJUSTMENT" and rows[0]["amount"] == "5000.00" and rows[0]["coupon_id"] == ""
    partial_capture = [r for r in rows if r["coupon_id"] == seeded.coupons["a1_1"] and r["kind"] == "CAPTURE"]
    assert [r["amount"] for r in partial_capture] == ["-100.00"]


def test_a_pdf_too_long_to_read_is_refused_with_advice(hub, seeded, monkeypatch):
    import hub.adapters.pdf.report as rendering

    monkeypatch.setattr(rendering, "PDF_ROWS_MAX", 10)
    report = run(hub, "coupons")
    with pytest.raises(InvalidRequest, match="at most 10 rows and this one has 14: narrow it .* or take --format csv"):
        render(report, "pdf")
    assert len(list(csv.DictReader(io.StringIO(to_csv(report, RFC4180))))) == 14


def test_the_excel_csv_has_a_bom_semicolons_polish_titles_warsaw_time_and_polish_labels(hub, seeded):
    """The default csv is for a person with a Polish Excel; the RFC 4180 one keeps the codes."""
    report = run(hub, "coupons")
    text = render(report, "csv").decode("utf-8")
    assert text.startswith("\ufeff") and "\r\n" in text
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0] == [c.title for c in report.columns] and rows[0][:4] == [
        "Kupon",
        "NIP firmy",
        "Rodzaj sprawy",
        "Status",
    ]
    machine = list(csv.DictReader(io.StringIO(to_csv(report, RFC4180))))
    assert len(rows) - 1 == len(machine) == len(report.rows)
    names = {t.code: t.name for t in hub.config.case_types}
    for cells, row, plain in zip(rows[1:], report.rows, machine, strict=True):
        person = dict(zip([c.key for c in report.columns], cells, strict=True))
        assert person["amount"] == plain["amount"].replace(".", ",")  # 161,50: a number to a Polish Excel
        assert (
            person["status"]
            == {"ISSUED": "wydany", "REDEEMED": "wykorzystany", "CANCELLED": "anulowany", "EXPIRED": "wygasły"}[
                plain["status"]
            ]
        )
        assert person["case_type"] == names[plain["case_type"]]
        assert not person["issued_by"].startswith(("user:", "cli:"))
        warsaw = row["issued_at"].astimezone(ZoneInfo("Europe/Warsaw"))
        assert person["issued_at"] == warsaw.strftime("%d.%m.%Y %H:%M:%S")
    assert not any(re.search(r"\b[A-Z]+_[A-Z_]+\b", cell) for line in rows[1:] for cell in line)  # no REJ_NEW-like code


def test_a_batch_reference_is_in_the_coupon_register(hub):
    funded_company(hub, 1000_00)
    hub.coupons.issue(
        request_id=str(uuid.uuid4()),
        company_nip=NIP,
        case_type="REJ_NEW",
        count=2,
        actor=OPERATOR,
        reference="UM/2026/0042",
    )
    report = run(hub, "coupons")
    assert [r["reference"] for r in report.rows] == ["UM/2026/0042", "UM/2026/0042"]
    assert "UM/2026/0042" in to_csv(report, RFC4180)
