"""The published contract files (hub/xsd/*.xsd, hub/wsdl/*.wsdl) against CONTRACT.md.

The expected tables below are CONTRACT.md sections 4 to 7 written out by hand. They are the
check that nobody renames, reorders or loosens a field that other systems are built against:
change them only together with the contract.

Every check runs offline: schemas and WSDLs load from the files on disk, and the zeep transport
used here refuses any URL.

Notation of the tables: `Name` exactly once, `Name?` optional, `Name*` zero or more, `Name+` one
or more; `("Item+", [...])` an element with children; `"(A | B+)"` a choice.
"""

from __future__ import annotations

import copy
import datetime
import functools
from decimal import Decimal
from pathlib import Path

import pytest
import xmlschema
import zeep
from lxml import etree
from xmlschema.extras.wsdl import Wsdl11Document
from zeep.transports import Transport
from zeep.xsd.elements.indicators import Choice, OrderIndicator

from hub import ns
from hub.services.endpoint import contract_schema
from hub.xmlsafe import parse_xml

ROOT = Path(__file__).resolve().parents[2]
XSD_DIR = ROOT / "hub" / "xsd"
WSDL_DIR = ROOT / "hub" / "wsdl"
SAMPLES = Path(__file__).resolve().parent / "samples"


def parse(path: Path) -> etree._Element:
    return from_bytes(path.read_bytes())


def from_text(text: str) -> etree._Element:
    return from_bytes(text.encode())


def from_bytes(data: bytes) -> etree._Element:
    """Through the hub's one hardened parser, as the hub reads what comes from outside."""
    return parse_xml(data, bytes_max=10_000_000, depth_max=64)


COMMON = parse(XSD_DIR / "common.xsd").get("targetNamespace")

# service file key -> (namespace, service, port, placeholder address)
SERVICES = {
    "office": (ns.OFFICE, "OfficeService", "OfficePort", "http://localhost:8000/soap/office"),
    "company": (ns.COMPANY, "CompanyService", "CompanyPort", "http://localhost:8000/soap/company"),
    "cashdesk": (ns.CASHDESK, "CashDeskService", "CashDeskPort", "http://localhost:8000/soap/cashdesk"),
    "bank": (ns.BANK, "BankService", "BankPort", "http://localhost:8100/bank"),
    "fk": (ns.FK, "FkService", "FkPort", "http://localhost:8200/fk"),
    "bankin": (ns.BANK_IN, "BankInService", "BankInPort", "http://localhost:8000/soap/bank"),
}

# ----------------------------------------------------------- CONTRACT.md, requests

INPUTS = {
    "office": {
        "VerifyCoupon": ["CouponId", "OfficeCode", "CaseType?", "PayerNip?"],
        "RedeemCoupon": ["RequestId", "CouponId", "OfficeCode", "CaseNumber", "CaseType", "Amount?"],
        "ReverseRedemption": ["RequestId", "RedemptionId", "OfficeCode", "Reason"],
        "VerifyPayment": ["System", "OfficeCode", "CaseNumber"],
    },
    "company": {
        "GetAccount": ["CompanyNip"],
        "IssueCoupons": [
            # Reference?: issue 20 (the company's own reference for a batch), added after the
            # existing elements so that every earlier request stays valid; CONTRACT.md to follow
            "RequestId",
            "CompanyNip",
            "CaseType",
            "Count",
            "Amount?",
            "OfficeCode?",
            "IssuedBy?",
            "Reference?",
        ],
        "GetCouponsPdf": ["(BatchId | CouponId+)", "PerPage?"],  # issue 20: PerPage optional, after the choice
        "ListCoupons": ["CompanyNip", "Status?", "IssuedFrom?", "IssuedTo?", "Offset?", "Limit?"],
        "CancelCoupon": ["RequestId", "CouponId"],
        "GetStatement": ["CompanyNip", "From", "To"],
    },
    "cashdesk": {
        "RegisterPayment": [
            "RequestId",
            "OfficeCode",
            "DeskId",
            "Cashier",
            "System",
            "CaseNumber",
            "Method",
            "CardAuthCode?",
            ("Item+", ["FeeCode", "Amount?"]),
            "PayerName?",
            "PayerAddress?",  # issue 20: optional, after the contract's elements
        ],
        "VoidPayment": ["RequestId", "PaymentId", "Reason", "Supervisor"],
        "CloseDay": [
            "RequestId",
            "OfficeCode",
            "DeskId",
            "Date",
            "CountedCash?",
            "Supervisor?",
        ],  # issue 20: the cash count
        "GetReceiptPdf": ["PaymentId"],
    },
    "bank": {
        "SubmitTransfer": [
            "EndToEndId",
            "DebtorAccount",
            "CreditorAccount",
            "CreditorName",
            "Amount",
            "Title",
            "RequestedDate",
        ]
    },
    "fk": {
        "PostJournal": [
            "JournalId",
            "OfficeCode",
            "Date",
            ("Line+", ["Account", "Debit", "Credit", "Description", "Reference"]),
        ]
    },
    "bankin": {"SubmitStatement": ["Document"]},
}

# ---------------------------------------------------------- CONTRACT.md, responses

OUTPUTS = {
    "office": {
        # The contract lists Status..ExpiresAt without `?`, but with Reason NOT_FOUND or
        # MALFORMED there is no coupon to describe: they are optional on the wire, documented
        # in office.xsd as "always present except with NOT_FOUND or MALFORMED".
        "VerifyCoupon": [
            "CouponId",
            "Valid",
            "Status?",
            "Reason?",
            "Amount?",
            "CaseType?",
            "PayerNip?",
            "PayerName?",
            "ExpiresAt?",
            "CurrentFee?",
        ],
        "RedeemCoupon": ["RedemptionId", "CouponId", "CapturedAmount", "ReleasedAmount", "RedeemedAt"],
        "ReverseRedemption": ["CouponId", "Status", "ReversedAt"],
        "VerifyPayment": [
            "Paid",
            "TotalPaid",
            (
                "Payment*",
                [
                    "PaymentId",
                    "ReceiptNumber",
                    "Amount",
                    "HandlingFee",
                    "Method",
                    "PaidAt",
                    ("Item*", ["FeeCode", "Amount"]),
                ],
            ),
        ],
    },
    "company": {
        "GetAccount": [
            "CompanyName",
            "Available",
            "Held",
            "VirtualAccount?",
            "TopUpTitle?",
        ],  # both optional: an IBAN escrow has no virtual accounts
        "IssueCoupons": ["BatchId", "TotalHeld", ("Coupon*", ["CouponId", "Amount", "CaseType", "ExpiresAt"])],
        "GetCouponsPdf": ["Pdf"],
        "ListCoupons": [
            "Total",
            (
                "Coupon*",
                [
                    "CouponId",
                    "Status",
                    "Amount",
                    "CaseType",
                    "IssuedAt",
                    "ExpiresAt",
                    "RedeemedAt?",
                    "OfficeCode?",
                    "CaseNumber?",
                ],
            ),
        ],
        "CancelCoupon": ["ReleasedAmount"],
        "GetStatement": [
            "OpeningBalance",
            "ClosingBalance",
            ("Entry*", ["BookedAt", "Kind", "Amount", "CouponId?", "Reference"]),
        ],
    },
    "cashdesk": {
        "RegisterPayment": ["PaymentId", "ReceiptNumber", "ItemsTotal", "HandlingFee", "Total", "PaidAt"],
        "VoidPayment": ["VoidedAt"],
        "CloseDay": [
            "ReportId",
            "PaymentCount",
            "VoidedCount",
            "CashTotal",
            "CardTotal",
            "HandlingFeeTotal",
            "ExpectedCash?",
            "CountedCash?",
            "CashDifference?",
            "DifferenceConfirmedBy?",  # issue 20: only with a cash count
        ],
        "GetReceiptPdf": ["Pdf"],
    },
    "bank": {"SubmitTransfer": ["BankReference", "Status", "RejectReason?"]},
    "fk": {"PostJournal": ["Accepted"]},
    "bankin": {"SubmitStatement": ["Imported", "Duplicates", "Unmatched", "StatementId"]},
}

FAULT_DETAIL = ["Code", "Available?", "Required?", "Reason?", "RequestId?", "Element?"]

OPERATIONS = [(svc, op) for svc, ops in INPUTS.items() for op in ops]
XSD_FILES = sorted(p.name for p in XSD_DIR.glob("*.xsd"))


# --------------------------------------------------------------------- loaders


class OfflineTransport(Transport):
    """Reads local files only; any URL is a bug in the contract files."""

    def _load_remote_data(self, url):
        raise AssertionError(f"the contract files must not reach the network: {url}")


@functools.cache
def zeep_client(service: str) -> zeep.Client:
    settings = zeep.Settings(
        strict=True, xml_huge_tree=False, forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    return zeep.Client(str(WSDL_DIR / f"{service}.wsdl"), transport=OfflineTransport(), settings=settings)


@functools.cache
def lxml_schema(name: str) -> etree.XMLSchema:
    return contract_schema(name.removesuffix(".xsd"))


@functools.cache
def xml_schema(name: str) -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(XSD_DIR / name), allow="local")


def assert_valid(service: str, element: etree._Element) -> None:
    schema = lxml_schema(f"{service}.xsd")
    assert schema.validate(element), str(schema.error_log)
    xml_schema(f"{service}.xsd").validate(element)


def assert_invalid(service: str, element: etree._Element) -> None:
    assert not lxml_schema(f"{service}.xsd").validate(element), "lxml accepted it"
    assert not xml_schema(f"{service}.xsd").is_valid(element), "xmlschema accepted it"


def sample(service: str, operation: str) -> etree._Element:
    return parse(SAMPLES / service / f"{operation}.xml")


# ------------------------------------------------- describing a content model


def occurs(name: str, min_occurs: int, max_occurs) -> str:
    unbounded = max_occurs in (None, "unbounded")
    suffix = {(1, False): "", (0, False): "?", (0, True): "*", (1, True): "+"}.get((min_occurs, unbounded))
    if suffix is None or (not unbounded and max_occurs != 1):
        suffix = f"{{{min_occurs},{max_occurs}}}"
    return name + suffix


def describe_zeep(particle) -> list:
    """zeep's compiled content model (a type's `_element`) in the table notation."""
    if isinstance(particle, Choice):
        # zeep marks every alternative of a choice optional ("naive workaround" in its
        # visitor), so only names and maxOccurs are read here; xmlschema checks minOccurs.
        alternatives = [occurs(c.name, 1, c.max_occurs) for c in particle]
        return [occurs(f"({' | '.join(alternatives)})", particle.min_occurs, particle.max_occurs)]
    if isinstance(particle, OrderIndicator):
        return [item for child in particle for item in describe_zeep(child)]
    label = occurs(particle.name, particle.min_occurs, particle.max_occurs)
    inner = getattr(particle.type, "_element", None)
    return [(label, describe_zeep(inner)) if inner is not None else label]


def describe_xmlschema(particle) -> list:
    """xmlschema's content model (a type's `content`) in the table notation."""
    if isinstance(particle, xmlschema.validators.XsdGroup):
        children = [item for child in particle for item in describe_xmlschema(child)]
        if particle.model != "choice":
            return children
        return [occurs(f"({' | '.join(children)})", particle.min_occurs, particle.max_occurs)]
    label = occurs(particle.local_name, particle.min_occurs, particle.max_occurs)
    if particle.type.is_complex():
        return [(label, describe_xmlschema(particle.type.content))]
    return [label]


def operation(service: str, name: str):
    return zeep_client(service).service._binding._operations[name]


# ======================================================================== XSD


@pytest.mark.parametrize("name", XSD_FILES)
def test_xsd_compiles_with_lxml(name):
    lxml_schema(name)


@pytest.mark.parametrize("name", XSD_FILES)
def test_xsd_compiles_with_xmlschema(name):
    schema = xml_schema(name)
    assert schema.validity == "valid"


def test_every_service_has_its_xsd_and_wsdl():
    assert set(XSD_FILES) == {"common.xsd"} | {f"{s}.xsd" for s in SERVICES}
    assert {p.name for p in WSDL_DIR.glob("*.wsdl")} == {f"{s}.wsdl" for s in SERVICES}


@pytest.mark.parametrize("service", SERVICES)
def test_xsd_namespace_and_form(service):
    root = parse(XSD_DIR / f"{service}.xsd")
    assert root.get("targetNamespace") == SERVICES[service][0]
    assert root.get("elementFormDefault") == "qualified"
    imports = root.findall(f"{{{ns.XSD}}}import")
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [(COMMON, "common.xsd")]
    assert root.findall(f"{{{ns.XSD}}}include") == []


def test_common_namespace_is_in_ns_module():
    assert ns.COMMON == COMMON


@pytest.mark.parametrize("service", SERVICES)
def test_spyne_schema_parser_reads_the_xsd(service):
    """spyne maps imports by namespace (it ignores schemaLocation), so it gets the common file."""
    from spyne.util.xml import parse_schema_file

    parsed = parse_schema_file(str(XSD_DIR / f"{service}.xsd"), files={COMMON: str(XSD_DIR / "common.xsd")})
    requests = {f"{op}Request" for op in INPUTS[service]}
    assert requests <= set(parsed[SERVICES[service][0]].elements)
    assert "FaultDetail" in parsed[COMMON].elements


# ======================================================================= WSDL


@pytest.mark.parametrize("service", SERVICES)
def test_wsdl_loads_in_zeep_offline(service):
    namespace, service_name, port_name, address = SERVICES[service]
    client = zeep_client(service)
    wsdl_service = client.wsdl.services[service_name]
    port = wsdl_service.ports[port_name]
    assert port.binding_options["address"] == address
    assert client.service._binding.name == etree.QName(namespace, service_name.removesuffix("Service") + "Binding")
    assert set(client.service._binding._operations) == set(INPUTS[service])


@pytest.mark.parametrize("service", SERVICES)
def test_wsdl_loads_in_xmlschema(service):
    namespace, service_name, _, _ = SERVICES[service]
    wsdl = Wsdl11Document(str(WSDL_DIR / f"{service}.wsdl"), allow="local")
    assert list(wsdl.maps.services) == [f"{{{namespace}}}{service_name}"]
    (binding,) = wsdl.maps.bindings.values()
    assert binding.soap_transport == "http://schemas.xmlsoap.org/soap/http"
    assert binding.soap_style == "document"
    assert {key[0] for key in binding.operations} == set(INPUTS[service])


@pytest.mark.parametrize("service", SERVICES)
def test_wsdl_is_soap11_document_literal_and_imports_the_files_on_disk(service):
    namespace, service_name, port_name, address = SERVICES[service]
    root = parse(WSDL_DIR / f"{service}.wsdl")
    w = {"wsdl": ns.WSDL, "soap": ns.WSDL_SOAP, "xsd": ns.XSD}
    assert root.get("targetNamespace") == namespace
    imports = root.findall("wsdl:types/xsd:schema/xsd:import", w)
    assert [(i.get("namespace"), i.get("schemaLocation")) for i in imports] == [
        (namespace, f"../xsd/{service}.xsd"),
        (COMMON, "../xsd/common.xsd"),
    ]
    for i in imports:
        assert (WSDL_DIR / i.get("schemaLocation")).resolve().is_file()
    (binding,) = root.findall("wsdl:binding", w)
    soap_binding = binding.find("soap:binding", w)
    assert soap_binding.get("style") == "document"
    assert soap_binding.get("transport") == "http://schemas.xmlsoap.org/soap/http"
    for body in binding.iterfind(".//soap:body", w):
        assert dict(body.attrib) == {"use": "literal"}
    for fault in binding.iterfind(".//soap:fault", w):
        assert dict(fault.attrib) == {"name": "HubFault", "use": "literal"}
    (addr,) = root.findall(f"wsdl:service[@name='{service_name}']/wsdl:port[@name='{port_name}']/soap:address", w)
    assert addr.get("location") == address


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_operation_messages_action_and_fault(service, name):
    namespace = SERVICES[service][0]
    op = operation(service, name)
    assert op.soapaction == f"{namespace}#{name}"
    assert op.input.body.qname == etree.QName(namespace, f"{name}Request")
    assert op.output.body.qname == etree.QName(namespace, f"{name}Response")
    assert set(op.faults) == {"HubFault"}
    (part,) = op.faults["HubFault"].abstract.parts.values()
    assert part.element.qname == etree.QName(COMMON, "FaultDetail")


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_request_fields_match_contract_in_zeep(service, name):
    op = operation(service, name)
    assert describe_zeep(op.input.body.type._element) == INPUTS[service][name]


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_response_fields_match_contract_in_zeep(service, name):
    op = operation(service, name)
    assert describe_zeep(op.output.body.type._element) == OUTPUTS[service][name]


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_request_and_response_fields_match_contract_in_xmlschema(service, name):
    namespace = SERVICES[service][0]
    schema = xml_schema(f"{service}.xsd")
    request = schema.elements[f"{name}Request"]
    response = schema.elements[f"{name}Response"]
    assert request.target_namespace == namespace
    assert describe_xmlschema(request.type.content) == INPUTS[service][name]
    assert describe_xmlschema(response.type.content) == OUTPUTS[service][name]


def test_fault_detail_fields():
    detail = xml_schema("common.xsd").elements["FaultDetail"]
    assert describe_xmlschema(detail.type.content) == FAULT_DETAIL


# ==================================================================== samples


def test_one_sample_per_operation():
    found = {(p.parent.name, p.stem) for p in SAMPLES.glob("*/*.xml") if p.parent.name in SERVICES}
    assert found == set(OPERATIONS)


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_sample_request_is_valid(service, name):
    root = sample(service, name)
    assert root.tag == f"{{{SERVICES[service][0]}}}{name}Request"
    assert_valid(service, root)


def structure(element: etree._Element):
    """Tag, whitespace-free text, children: XML compared structurally, not as strings."""
    return (element.tag, "".join((element.text or "").split()), [structure(c) for c in element])


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_sample_request_round_trips_through_zeep(service, name):
    """zeep reads each sample and writes it back unchanged, and what it writes validates."""
    client = zeep_client(service)
    root = sample(service, name)
    element = client.get_element(root.tag)
    value = element.parse(root, client.wsdl.types)
    holder = etree.Element("holder")
    element.render(holder, value)
    (written,) = holder
    assert structure(written) == structure(root)
    assert_valid(service, written)


def test_sample_fault_detail_is_valid():
    root = parse(SAMPLES / "common" / "FaultDetail.xml")
    assert root.tag == f"{{{COMMON}}}FaultDetail"
    assert lxml_schema("common.xsd").validate(root)
    xml_schema("common.xsd").validate(root)


# ================================================= valid and invalid requests


def edit(root: etree._Element, path: str, text: str | None) -> etree._Element:
    """A copy of the sample with element `path` (local names, '/'-separated) set to `text`,
    or removed when text is None."""
    root = copy.deepcopy(root)
    namespace = etree.QName(root).namespace
    target = root.find("/".join(f"{{{namespace}}}{step}" for step in path.split("/")))
    assert target is not None, path
    if text is None:
        target.getparent().remove(target)
    else:
        target.text = text
    return root


def append(root: etree._Element, xml: str) -> etree._Element:
    root = copy.deepcopy(root)
    root.append(from_text(xml.replace("NS", etree.QName(root).namespace)))
    return root


UUID = "0b2b57bf-0f0e-4631-abda-73461491cc02"

VALID_EDITS = [
    ("office", "VerifyCoupon", "CouponId", "abth y2sn hy6n obh4", "forgiving input passes the schema"),
    ("office", "VerifyCoupon", "CouponId", "x", "MALFORMED is decided in code, not by the schema"),
    ("office", "VerifyCoupon", "OfficeCode", "0201", "leading zero"),
    ("office", "VerifyCoupon", "CaseType", None, "CaseType is optional"),
    ("office", "VerifyCoupon", "PayerNip", None, "PayerNip is optional"),
    ("office", "RedeemCoupon", "RequestId", UUID.upper(), "UUID hex in upper case"),
    ("office", "RedeemCoupon", "Amount", "161.5", "one fraction digit"),
    ("office", "RedeemCoupon", "Amount", "0", "zero, no fraction"),
    ("office", "RedeemCoupon", "Amount", "9999999999999.99", "15 digits"),
    ("office", "RedeemCoupon", "Amount", None, "Amount is optional"),
    ("company", "IssueCoupons", "Count", "1", "Count lower bound"),
    ("company", "IssueCoupons", "Count", "1000", "Count upper bound"),
    ("company", "ListCoupons", "Limit", "1000", "Limit upper bound"),
    ("company", "ListCoupons", "Status", None, "Status is optional"),
    ("cashdesk", "RegisterPayment", "CardAuthCode", None, "CARD without a code is caught in code"),
    ("cashdesk", "RegisterPayment", "Item/Amount", None, "Item amount defaults to the fee"),
    ("bank", "SubmitTransfer", "DebtorAccount", "DE89370400440532013000", "escrow may be any IBAN"),
]


@pytest.mark.parametrize("service,name,path,text,why", VALID_EDITS, ids=[v[4] for v in VALID_EDITS])
def test_valid_variation(service, name, path, text, why):
    assert_valid(service, edit(sample(service, name), path, text))


def test_get_coupons_pdf_by_batch_is_valid():
    root = from_text(f'<GetCouponsPdfRequest xmlns="{ns.COMPANY}"><BatchId>B-1</BatchId></GetCouponsPdfRequest>')
    assert_valid("company", root)


def test_list_coupons_with_only_the_nip_is_valid():
    root = from_text(
        f'<ListCouponsRequest xmlns="{ns.COMPANY}"><CompanyNip>5260250274</CompanyNip></ListCouponsRequest>'
    )
    assert_valid("company", root)


INVALID_EDITS = [
    ("office", "VerifyCoupon", "OfficeCode", "146", "OfficeCode of 3 digits"),
    ("office", "VerifyCoupon", "OfficeCode", "14650", "OfficeCode of 5 digits"),
    ("office", "VerifyCoupon", "OfficeCode", " 1465", "OfficeCode with a space"),
    ("office", "VerifyCoupon", "OfficeCode", "\u0661\u0664\u0666\u0665", "OfficeCode in Arabic-Indic digits"),
    ("office", "VerifyCoupon", "OfficeCode", None, "OfficeCode missing"),
    ("office", "VerifyCoupon", "CouponId", "", "CouponId empty"),
    ("office", "VerifyCoupon", "CouponId", "A" * 65, "CouponId of 65 characters"),
    ("office", "VerifyCoupon", "PayerNip", "526025027", "NIP of 9 digits"),
    ("office", "RedeemCoupon", "RequestId", None, "RedeemCoupon without RequestId"),
    ("office", "RedeemCoupon", "RequestId", "not-a-uuid", "RequestId not a UUID"),
    ("office", "RedeemCoupon", "RequestId", UUID.replace("-", ""), "RequestId without dashes"),
    ("office", "RedeemCoupon", "RequestId", "{" + UUID + "}", "RequestId in braces"),
    ("office", "RedeemCoupon", "Amount", "1.234", "Amount with 3 fraction digits"),
    ("office", "RedeemCoupon", "Amount", "-1", "Amount negative"),
    ("office", "RedeemCoupon", "Amount", "-0.00", "Amount with a minus sign"),
    ("office", "RedeemCoupon", "Amount", "+1.00", "Amount with a plus sign"),
    ("office", "RedeemCoupon", "Amount", ".5", "Amount without integer digits"),
    ("office", "RedeemCoupon", "Amount", "1,50", "Amount with a decimal comma"),
    ("office", "RedeemCoupon", "Amount", "1e2", "Amount with an exponent"),
    ("office", "RedeemCoupon", "Amount", "12345678901234", "Amount of 14 integer digits"),
    ("office", "RedeemCoupon", "CaseNumber", " KM.1", "CaseNumber with a leading space"),
    ("office", "RedeemCoupon", "CaseNumber", "K" * 65, "CaseNumber of 65 characters"),
    ("office", "ReverseRedemption", "Reason", "   ", "Reason only whitespace"),
    ("office", "VerifyPayment", "System", "pojazd", "System in lower case"),
    ("company", "IssueCoupons", "Count", "0", "Count 0"),
    ("company", "IssueCoupons", "Count", "1001", "Count 1001"),
    ("company", "IssueCoupons", "Count", "1.5", "Count not an integer"),
    ("company", "IssueCoupons", "CompanyNip", "526-025-02-74", "NIP with dashes"),
    ("company", "ListCoupons", "Limit", "1001", "Limit 1001"),
    ("company", "ListCoupons", "Offset", "-1", "Offset negative"),
    ("company", "ListCoupons", "Status", "ACTIVE", "unknown coupon status"),
    ("company", "ListCoupons", "IssuedFrom", "2026-03-01T00:00:00", "IssuedFrom as a dateTime"),
    ("company", "ListCoupons", "IssuedFrom", "2026-03-01+01:00", "IssuedFrom with a zone"),
    ("company", "GetStatement", "To", None, "GetStatement without To"),
    ("cashdesk", "RegisterPayment", "Method", "BLIK", "unknown payment method"),
    ("cashdesk", "RegisterPayment", "DeskId", "01/02", "DeskId with a slash"),
    ("cashdesk", "RegisterPayment", "Item/FeeCode", None, "Item without FeeCode"),
    ("cashdesk", "RegisterPayment", "Item/Amount", "-5.00", "Item amount negative"),
    ("cashdesk", "CloseDay", "Date", "2026-02-30", "no such day"),
    ("bank", "SubmitTransfer", "CreditorAccount", "1111402004000030021234567", "NRB of 25 digits"),
    ("bank", "SubmitTransfer", "CreditorAccount", "11 1140 2004 0000 3002 1234 5678", "NRB with spaces"),
    ("bank", "SubmitTransfer", "EndToEndId", "E" * 36, "EndToEndId of 36 characters"),
    ("fk", "PostJournal", "Line/Debit", "-1.00", "Debit negative"),
    ("bankin", "SubmitStatement", "Document", "not base64!", "Document not base64"),
    ("bankin", "SubmitStatement", "Document", "", "Document empty"),
]


@pytest.mark.parametrize("service,name,path,text,why", INVALID_EDITS, ids=[v[4] for v in INVALID_EDITS])
def test_invalid_variation(service, name, path, text, why):
    assert_invalid(service, edit(sample(service, name), path, text))


@pytest.mark.parametrize("service,name", OPERATIONS)
def test_unknown_element_is_invalid(service, name):
    assert_invalid(service, append(sample(service, name), "<Extra xmlns='NS'>1</Extra>"))


def test_fields_out_of_order_are_invalid():
    root = sample("office", "VerifyCoupon")
    root.insert(0, root[1])  # OfficeCode before CouponId
    assert_invalid("office", root)


def test_unqualified_fields_are_invalid():
    root = from_text(
        f'<o:VerifyCouponRequest xmlns:o="{ns.OFFICE}"><CouponId>X</CouponId><OfficeCode>1465</OfficeCode>'
        "</o:VerifyCouponRequest>"
    )
    assert_invalid("office", root)


def test_get_coupons_pdf_takes_batch_or_coupons_not_both_nor_neither():
    both = append(sample("company", "GetCouponsPdf"), "<BatchId xmlns='NS'>B-1</BatchId>")
    assert_invalid("company", both)
    assert_invalid("company", from_text(f'<GetCouponsPdfRequest xmlns="{ns.COMPANY}"/>'))


@pytest.mark.parametrize("service,path", [("cashdesk", "Item"), ("fk", "Line")])
def test_at_least_one_line(service, path):
    name = {"cashdesk": "RegisterPayment", "fk": "PostJournal"}[service]
    root = sample(service, name)
    for child in root.findall(f"{{{SERVICES[service][0]}}}{path}"):
        root.remove(child)
    assert_invalid(service, root)


# =================================================== responses and fault detail


def response(service: str, name: str, body: str) -> etree._Element:
    return from_text(f'<{name}Response xmlns="{SERVICES[service][0]}">{body}</{name}Response>')


def test_verify_coupon_not_found_response_is_valid():
    root = response(
        "office",
        "VerifyCoupon",
        "<CouponId>ABTH-Y2SN-HY6N-0BH4</CouponId><Valid>false</Valid><Reason>NOT_FOUND</Reason>",
    )
    assert_valid("office", root)


VERIFY_COUPON_FOUND = (
    "<CouponId>ABTH-Y2SN-HY6N-0BH4</CouponId><Valid>true</Valid><Status>ISSUED</Status>"
    "<Amount>161.50</Amount><CaseType>REJ_NOWE_TABLICE</CaseType><PayerNip>5260250274</PayerNip>"
    "<PayerName>Leasing Sample sp. z o.o.</PayerName><ExpiresAt>{}</ExpiresAt>"
)


def test_verify_coupon_response_reads_in_zeep():
    client = zeep_client("office")
    root = response("office", "VerifyCoupon", VERIFY_COUPON_FOUND.format("2026-06-01T10:00:00Z"))
    assert_valid("office", root)
    value = client.get_element(root.tag).parse(root, client.wsdl.types)
    assert value.Amount == Decimal("161.50")
    assert value.Valid is True
    assert value.ExpiresAt == datetime.datetime(2026, 6, 1, 10, 0, tzinfo=datetime.UTC)


def test_response_times_are_utc():
    root = response("office", "VerifyCoupon", VERIFY_COUPON_FOUND.format("2026-06-01T12:00:00+02:00"))
    assert_invalid("office", root)
    root = response("office", "VerifyCoupon", VERIFY_COUPON_FOUND.format("2026-06-01T12:00:00"))
    assert_invalid("office", root)


def test_statement_amounts_are_signed_balances_are_not():
    entry = (
        "<Entry><BookedAt>2026-03-02T09:00:00Z</BookedAt><Kind>HOLD</Kind><Amount>-161.50</Amount>"
        "<CouponId>ABTH-Y2SN-HY6N-0BH4</CouponId><Reference>B-1</Reference></Entry>"
    )
    ok = response(
        "company",
        "GetStatement",
        f"<OpeningBalance>500.00</OpeningBalance><ClosingBalance>500.00</ClosingBalance>{entry}",
    )
    assert_valid("company", ok)
    negative = response(
        "company",
        "GetStatement",
        f"<OpeningBalance>-1.00</OpeningBalance><ClosingBalance>500.00</ClosingBalance>{entry}",
    )
    assert_invalid("company", negative)


def fault_detail(body: str) -> etree._Element:
    return from_text(f'<FaultDetail xmlns="{COMMON}">{body}</FaultDetail>')


@pytest.mark.parametrize(
    "body",
    [
        "<Code>InsufficientFunds</Code><Available>100.00</Available><Required>161.50</Required>",
        "<Code>CouponNotRedeemable</Code><Reason>REDEEMED</Reason>",
        "<Code>SchemaViolation</Code><Element>{urn:hub:office:v1}OfficeCode</Element>",
        "<Code>Server</Code><RequestId>srv-7f3a9c</RequestId>",
    ],
)
def test_fault_detail_valid(body):
    root = fault_detail(body)
    assert lxml_schema("common.xsd").validate(root)
    xml_schema("common.xsd").validate(root)


@pytest.mark.parametrize(
    "body",
    [
        "",
        "<Code>not a code</Code>",
        "<Code>CouponNotRedeemable</Code><Reason>BROKEN</Reason>",
        "<Available>1.00</Available><Code>InsufficientFunds</Code>",
    ],
)
def test_fault_detail_invalid(body):
    root = fault_detail(body)
    assert not lxml_schema("common.xsd").validate(root)
    assert not xml_schema("common.xsd").is_valid(root)


# ======================================================= what zeep writes


def body_of(envelope: etree._Element) -> etree._Element:
    (child,) = envelope.find(f"{{{ns.SOAP_ENV_11}}}Body")
    return child


ZEEP_CALLS = [
    ("office", "VerifyCoupon", dict(CouponId="ABTH-Y2SN-HY6N-0BH4", OfficeCode="1465")),
    (
        "office",
        "RedeemCoupon",
        dict(
            RequestId=UUID,
            CouponId="ABTH-Y2SN-HY6N-0BH4",
            OfficeCode="1465",
            CaseNumber="KM.1",
            CaseType="REJ",
            Amount=Decimal("161.50"),
        ),
    ),
    ("company", "IssueCoupons", dict(RequestId=UUID, CompanyNip="5260250274", CaseType="REJ", Count=20)),
    ("company", "GetCouponsPdf", dict(BatchId="B-1")),
    ("company", "GetCouponsPdf", dict(CouponId=["ABTH-Y2SN-HY6N-0BH4", "RNRV-PH34-0P9A-D5WW"])),
    ("company", "ListCoupons", dict(CompanyNip="5260250274", IssuedFrom=datetime.date(2026, 3, 1), Limit=1000)),
    (
        "cashdesk",
        "RegisterPayment",
        dict(
            RequestId=UUID,
            OfficeCode="1465",
            DeskId="01",
            Cashier="anna.nowak",
            System="POJAZD",
            CaseNumber="KM.1",
            Method="CASH",
            Item=[{"FeeCode": "DOWOD_REJESTRACYJNY", "Amount": Decimal("54.00")}, {"FeeCode": "OPLATA_EWIDENCYJNA"}],
        ),
    ),
    ("cashdesk", "CloseDay", dict(RequestId=UUID, OfficeCode="1465", DeskId="01", Date=datetime.date(2026, 3, 2))),
    (
        "bank",
        "SubmitTransfer",
        dict(
            EndToEndId="SET-1",
            DebtorAccount="94109010140000000112345678",
            CreditorAccount="11114020040000300212345678",
            CreditorName="Urząd",
            Amount=Decimal("1615.00"),
            Title="Rozliczenie",
            RequestedDate=datetime.date(2026, 3, 3),
        ),
    ),
    ("bankin", "SubmitStatement", dict(Document=b"<Document/>")),
]


@pytest.mark.parametrize("service,name,kwargs", ZEEP_CALLS, ids=[f"{c[1]}-{i}" for i, c in enumerate(ZEEP_CALLS)])
def test_what_a_zeep_client_sends_is_valid(service, name, kwargs):
    client = zeep_client(service)
    envelope = client.create_message(client.service, name, **kwargs)
    assert_valid(service, body_of(envelope))
