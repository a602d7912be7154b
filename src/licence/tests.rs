//! Templates end to end: every shipped kind checks a realistic sample, lays it out, renders and
//! seals it; `pdftotext` gives back every label and value; a PNG of each goes to
//! the evidence directory (`templates/`, see `test_needs::evidence_dir`) for a person to look at. A seventh kind loads from a
//! directory with no Rust change; broken templates are refused naming file and entry.

use std::process::Command;
use std::sync::OnceLock;

use serde_json::{json, Value};
use time::macros::date;
use time::{Date, OffsetDateTime};

use super::template::{FieldKind, DESCENT, MM_PER_PT, VALUE_LINE_HEIGHT};
use super::*;
use crate::domain::{CreditCode, DivisionCode, LicenceId, LicenceTypeCode, Serial, Version};
use crate::pdf::appearance::{SealForm, SealImpression, SealShape};
use crate::pdf::font::{FontProgram, NOTO_SERIF_SC};
use crate::pdf::render::{Document, Item, Renderer};
use crate::pki::SealKey;
use crate::seal::{Placement, Stamp};

const ISSUED_ON: Date = date!(2024 - 05 - 20);
/// The issuing departments' credit code in these tests.
const ISSUER_CODE: &str = "11350200MB0D00002U";

fn renderer() -> &'static Renderer {
    static RENDERER: OnceLock<Renderer> = OnceLock::new();
    RENDERER.get_or_init(|| Renderer::new(NOTO_SERIF_SC).expect("font parses"))
}

fn font() -> &'static FontProgram {
    static FONT: OnceLock<FontProgram> = OnceLock::new();
    FONT.get_or_init(|| FontProgram::new(NOTO_SERIF_SC).expect("font parses"))
}

/// A sample licence of a kind: who issues it, the submitted fields, and what the page must
/// print besides the plain text fields (label, printed value).
struct Sample {
    department: String,
    division: String,
    fields: Value,
    printed: &'static [(&'static str, &'static str)],
}

/// The six shipped kinds' samples: department and fields from `tests/fixtures/licences.json`
/// (shared with the end-to-end tests), what they print on 2024-05-20 here.
fn sample(kind: &str) -> Sample {
    let fixtures: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/licences.json")).unwrap();
    let fixture = &fixtures[kind];
    let text = |key: &str| fixture[key].as_str().unwrap().to_string();
    let printed: &'static [(&'static str, &'static str)] = match kind {
        "business_licence" => &[
                ("注册资本", "人民币壹仟万元整"),
                ("成立日期", "2021年03月15日"),
                ("营业期限", "2021年03月15日至长期"),
                ("登记机关", "厦门市市场监督管理局"),
            ],
        "food_business_permit" => &[
                ("许可证编号", "JY23502030000123"),
                (
                    "经营项目",
                    "预包装食品销售（含冷藏冷冻食品）散装食品销售（不含冷藏冷冻食品）热食类食品制售冷食类食品制售（不含生食类食品）",
                ),
                ("有效期至", "2029年05月19日"),
                ("发证机关", "厦门市思明区市场监督管理局"),
                ("发证日期", "2024年05月20日"),
            ],
        "work_safety_permit" => &[
                ("编号", "（闽）FM安许证字〔2024〕000012"),
                ("有效期", "2024年05月20日至2027年05月19日"),
                ("发证机关", "福建省应急管理厅"),
                ("发证日期", "2024年05月20日"),
            ],
        "construction_planning_permit" => &[
                ("编号", "建字第350200202400012号"),
                (
                    "附图及附件名称",
                    "建设工程规划许可附图（总平面图）1份建筑方案设计图（平面、立面、剖面）1套建设工程规划条件核实要求1份",
                ),
                ("发证机关", "厦门市自然资源和规划局"),
                ("日期", "2024年05月20日"),
            ],
        "housing_presale_permit" => &[
                ("编号", "闽房预售字〔2024〕第00012号"),
                (
                    "预售范围",
                    "1#楼（1-26层）；2#楼（1-26层）；3#楼（1-18层）；5#楼（1-3层商业）",
                ),
                ("发证机关", "厦门市住房和建设局"),
                ("发证日期", "2024年05月20日"),
            ],
        "public_institution_certificate" => &[
                ("开办资金", "人民币伍佰万元整"),
                ("有效期", "自2024年05月20日至2029年05月19日"),
                ("登记管理机关", "厦门市事业单位登记管理局"),
                ("", "2024年05月20日"),
            ],
        other => panic!("no sample for {other}"),
    };
    Sample {
        department: text("department"),
        division: text("division"),
        fields: fixture["fields"].clone(),
        printed,
    }
}

const KINDS: [&str; 6] = [
    "business_licence",
    "food_business_permit",
    "work_safety_permit",
    "construction_planning_permit",
    "housing_presale_permit",
    "public_institution_certificate",
];

fn squeeze(s: &str) -> String {
    s.chars().filter(|c| !c.is_whitespace()).collect()
}

fn run(tool: &str, args: &[&str]) -> String {
    let out = Command::new(tool).args(args).output().expect(tool);
    assert!(
        out.status.success(),
        "{tool} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A seal key under a throwaway root, for the department `name`.
fn seal_key(name: &str) -> (SealKey, Vec<u8>) {
    crate::pki::testing::seal_key("测试根证书", name, ISSUER_CODE)
}

/// Checks, numbers and lays out a licence of `template` as the service does.
fn lay_out(
    template: &Template,
    fields: &Value,
    department: &str,
    division: &str,
) -> (CheckedFields, Document, String) {
    let mut checked = template.check(fields, ISSUED_ON).expect("sample checks");
    let division = DivisionCode::parse(division).unwrap();
    template
        .assign_number(&mut checked, &division, 12, ISSUED_ON)
        .expect("numbered");
    let type_code = LicenceTypeCode::parse(&template.type_code).expect("type code parses");
    let identifier = LicenceId::new(
        &type_code,
        &CreditCode::parse(ISSUER_CODE).unwrap(),
        &Serial::from_sequence(12),
        Version::first(),
    )
    .to_string();
    let facts = PageFacts {
        identifier: &identifier,
        qr_payload: &format!("https://zz.example.gov.cn/verify/licences/{identifier}"),
        issuer_name: department,
        issued_on: ISSUED_ON,
    };
    let document = template.layout(&checked, &facts, renderer());
    (checked, document, identifier)
}

/// Renders, seals (at the template's seal centre), writes PDF and PNG, and returns the text
/// `pdftotext -raw` extracts.
fn render_sealed(template: &Template, document: &Document, department: &str) -> String {
    let pdf = renderer().render(document).expect("renders");
    let (key, root) = seal_key(department);
    let impression = SealImpression {
        shape: SealShape::Round,
        name: department.to_string(),
        purpose: Some("行政审批专用章".into()),
        code: Some("3502000012345".into()),
        width_mm: 42.0,
    };
    let appearance = SealForm::new(&impression, font()).expect("lays out");
    let (x, y) = template.seal_centre_mm();
    let stamp = Stamp {
        key: &key,
        chain: &[root],
        appearance: &appearance,
        placement: Placement {
            page: Some(1),
            x_mm: Some(x),
            y_mm: Some(y),
            ..Placement::default()
        },
        signer_name: department,
        reason: "电子证照签发",
        location: department,
        password: None,
        timestamper: None,
    };
    let at = OffsetDateTime::new_utc(ISSUED_ON, time::Time::MIDNIGHT);
    let sealed = crate::seal::stamp(pdf, &stamp, at).expect("seals");
    let dir = crate::test_needs::evidence_dir("templates");
    let dir = dir.to_str().expect("a UTF-8 path");
    let path = format!("{dir}/{}.pdf", template.kind);
    std::fs::write(&path, sealed.into_vec()).unwrap();
    let png = format!("{dir}/{}", template.kind);
    run(
        "pdftoppm",
        &["-r", "60", "-png", "-singlefile", &path, &png],
    );
    run("pdftotext", &["-raw", &path, "-"])
}

/// The whole evidence for one shipped kind.
fn evidence(kind: &str) {
    let templates = Templates::builtin().expect("built-in templates load");
    let template = templates.get(kind).unwrap();
    let sample = sample(kind);
    let (checked, document, identifier) = lay_out(
        template,
        &sample.fields,
        &sample.department,
        &sample.division,
    );

    // Every plain field prints its label and submitted value; the rest as listed.
    let mut expected: Vec<(String, String)> = Vec::new();
    for field in &template.fields {
        let plain = matches!(
            field.kind,
            FieldKind::Text
                | FieldKind::LongText
                | FieldKind::CreditCode { .. }
                | FieldKind::Enum(_)
        );
        if let (true, Some(Value::String(value))) = (plain, sample.fields.get(&field.key)) {
            expected.push((field.label.clone(), value.clone()));
        }
    }
    expected.extend(
        sample
            .printed
            .iter()
            .map(|(l, v)| (l.to_string(), v.to_string())),
    );
    let text = render_sealed(template, &document, &sample.department);
    let flat = squeeze(&text);
    for (label, value) in &expected {
        let row = squeeze(&format!("{label}{value}"));
        assert!(
            flat.contains(&row),
            "{kind}: {label} {value} missing from:\n{text}"
        );
    }
    assert!(
        flat.contains(&squeeze(&template.name)),
        "{kind}: title\n{text}"
    );
    assert!(flat.contains(&identifier), "{kind}: identifier\n{text}");

    // Every field the sample fills is stored, plus the number.
    for key in sample.fields.as_object().unwrap().keys() {
        assert!(checked.values.contains_key(key), "{kind}: {key} not stored");
    }
    assert_eq!(
        checked.number.is_some(),
        template.number.is_some(),
        "{kind}: number"
    );
    if let (Some(spec), Some(number)) = (&template.number, &checked.number) {
        assert_eq!(
            checked.values.get(&spec.key),
            Some(&FieldValue::Text(number.clone()))
        );
    }
}

#[test]
fn business_licence_evidence() {
    evidence("business_licence");
}

#[test]
fn food_business_permit_evidence() {
    evidence("food_business_permit");
}

#[test]
fn work_safety_permit_evidence() {
    evidence("work_safety_permit");
}

#[test]
fn construction_planning_permit_evidence() {
    evidence("construction_planning_permit");
}

#[test]
fn housing_presale_permit_evidence() {
    evidence("housing_presale_permit");
}

#[test]
fn public_institution_certificate_evidence() {
    evidence("public_institution_certificate");
}

#[test]
fn the_six_kinds_are_built_in_with_distinct_type_codes() {
    let templates = Templates::builtin().unwrap();
    let mut codes = std::collections::BTreeSet::new();
    for kind in KINDS {
        let template = templates.get(kind).unwrap();
        assert!(codes.insert(template.type_code.clone()), "{kind}");
    }
    assert_eq!(templates.by_kind.len(), KINDS.len());
    let departments: Vec<&str> = KINDS
        .iter()
        .map(|k| templates.get(k).unwrap().department_type.as_str())
        .collect();
    assert_eq!(
        departments,
        [
            "market_regulation",
            "market_regulation",
            "emergency_management",
            "natural_resources",
            "housing",
            "institutional_staffing"
        ]
    );
}

/// The longest values `check` accepts still fit their rows when the renderer sets them.
#[test]
fn the_longest_accepted_values_fit_their_rows() {
    let templates = Templates::builtin().unwrap();
    for kind in KINDS {
        let template = templates.get(kind).unwrap();
        let sample = sample(kind);
        let mut fields = sample.fields.clone();
        for field in &template.fields {
            let value = |n: usize| match field.kind {
                FieldKind::Text | FieldKind::LongText => json!("国".repeat(n)),
                _ => json!(["国".repeat(n)]),
            };
            if !matches!(
                field.kind,
                FieldKind::Text | FieldKind::LongText | FieldKind::List(_)
            ) {
                continue;
            }
            // The longest run of 国 that is accepted, by bisection.
            let (mut fits, mut too_long) = (1, 2001);
            while too_long - fits > 1 {
                let n = (fits + too_long) / 2;
                let mut trial = fields.clone();
                trial[&field.key] = value(n);
                match template.check(&trial, ISSUED_ON) {
                    Ok(_) => fits = n,
                    Err(LicenceError::Field { message, .. })
                        if message.contains("too long") || message.contains("longer than") =>
                    {
                        too_long = n
                    }
                    Err(e) => panic!("{kind}.{}: {e}", field.key),
                }
            }
            fields[&field.key] = value(fits);
        }
        let (_, document, _) = lay_out(template, &fields, &sample.department, &sample.division);
        for field in &template.fields {
            let row = &field.row;
            let found = document.pages[0].items.iter().find_map(|item| match item {
                Item::Text {
                    x_mm,
                    y_mm,
                    size_pt,
                    text,
                    max_width_mm: Some(width),
                    ..
                } if *x_mm == row.value_x() && *y_mm == row.value_y() => {
                    Some((*size_pt, text.clone(), *width))
                }
                _ => None,
            });
            let (size, text, width) = found.unwrap_or_else(|| panic!("{kind}.{}", field.key));
            let lines = renderer().wrap(&text, size, width).len();
            let needed = ((lines - 1) as f32 * VALUE_LINE_HEIGHT + DESCENT) * size * MM_PER_PT;
            assert!(
                needed <= row.room_below_value() + 0.01,
                "{kind}.{}: {lines} lines at {size} pt need {needed} mm, have {}",
                field.key,
                row.room_below_value()
            );
        }
    }
}

/// A seventh kind: individual business licence (个体工商户营业执照), as a file.
const SEVENTH: &str = r##"
kind = "individual_business_licence"
name = "营业执照"
type_code = "11100000000013338W033"
department_type = "market_regulation"
holder_code_field = "credit_code"
holder_name_field = "name"
validity = "indefinite"

[page]
width_mm = 210.0
height_mm = 148.0
font_size_pt = 11.0
value_offset_mm = 24.0
identifier_at = [105.0, 138.0]
frames = [{ inset_mm = 6.0, line_width_pt = 2.0, colour = "#B22222" }]

[title]
text = "营业执照"
at = [105.0, 28.0]
size_pt = 28.0
letter_spacing_pt = 12.0

[[texts]]
text = "（个体工商户）"
at = [105.0, 37.0]
size_pt = 10.0
align = "center"

[[fields]]
key = "credit_code"
label = "统一社会信用代码"
type = "credit_code"
prefix = "92"
required = true
at = [14.0, 16.0]
width_mm = 70.0
label_above = true

[[fields]]
key = "name"
label = "名称"
type = "text"
required = true
at = [16.0, 52.0]
width_mm = 110.0

[[fields]]
key = "operator"
label = "经营者"
type = "text"
required = true
at = [16.0, 62.0]
width_mm = 110.0

[[fields]]
key = "form"
label = "组成形式"
type = "enum"
required = true
values = ["个人经营", "家庭经营"]
at = [16.0, 72.0]
width_mm = 110.0

[[fields]]
key = "premises"
label = "经营场所"
type = "text"
required = true
at = [16.0, 82.0]
width_mm = 110.0

[[fields]]
key = "scope"
label = "经营范围"
type = "long_text"
required = true
at = [16.0, 92.0]
width_mm = 110.0
height_mm = 22.0

[[fields]]
key = "registered_on"
label = "注册日期"
type = "date"
required = true
at = [16.0, 120.0]
width_mm = 110.0

[qr]
at = [160.0, 12.0]
size_mm = 30.0

[issuer]
label = "登记机关"
at = [132.0, 112.0]
width_mm = 66.0

[issue_date]
at = [132.0, 124.0]
width_mm = 66.0

[seal]
centre = [170.0, 113.0]
"##;

fn seventh_fields() -> Value {
    json!({
        "credit_code": "92350203MA2Y8K3RXP",
        "name": "思明区阿婆小吃店",
        "operator": "陈秀英",
        "form": "个人经营",
        "premises": "福建省厦门市思明区大同路56号",
        "scope": "小吃服务；餐饮服务（不产生油烟、异味、废气）",
        "registered_on": "2023-08-08"
    })
}

#[test]
fn a_seventh_kind_is_a_new_file() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("individual_business_licence.toml"), SEVENTH).unwrap();
    std::fs::write(dir.path().join("notes.txt"), "not a template").unwrap();
    let templates = Templates::load_dir(dir.path()).expect("loads");
    for kind in KINDS {
        templates.get(kind).expect("built-ins stay");
    }
    let template = templates.get("individual_business_licence").unwrap();
    let (checked, document, _) = lay_out(
        template,
        &seventh_fields(),
        "厦门市思明区市场监督管理局",
        "350203",
    );
    assert_eq!(checked.holder_code, "92350203MA2Y8K3RXP");
    assert_eq!(checked.holder_name, "思明区阿婆小吃店");
    assert_eq!((checked.valid_from, checked.valid_to), (ISSUED_ON, None));
    assert_eq!(checked.number, None);
    let text = render_sealed(template, &document, "厦门市思明区市场监督管理局");
    let flat = squeeze(&text);
    for row in ["组成形式个人经营", "注册日期2023年08月08日", "经营者陈秀英"] {
        assert!(flat.contains(row), "{row} missing from:\n{text}");
    }

    let mut wrong = seventh_fields();
    wrong["form"] = json!("合伙经营");
    assert_field_error(
        template,
        &wrong,
        "form",
        "must be one of: 个人经营, 家庭经营",
    );
    let mut wrong = seventh_fields();
    wrong["credit_code"] = json!("91350100M000100Y43");
    assert_field_error(template, &wrong, "credit_code", "must start with 92");
}

#[test]
fn a_file_replaces_the_built_in_kind_and_kinds_are_unique_within_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    let renamed = SEVENTH.replace(
        "kind = \"individual_business_licence\"",
        "kind = \"business_licence\"",
    );
    std::fs::write(dir.path().join("a.toml"), &renamed).unwrap();
    let templates = Templates::load_dir(dir.path()).unwrap();
    let business = templates.get("business_licence").unwrap();
    assert!(business.source().ends_with("a.toml"));
    assert!(business.check(&seventh_fields(), ISSUED_ON).is_ok());

    std::fs::write(dir.path().join("b.toml"), &renamed).unwrap();
    let problem = template_problem(Templates::load_dir(dir.path()));
    assert!(problem.file.ends_with("b.toml"), "{problem}");
    assert_eq!(problem.field.as_deref(), Some("kind"));
    assert!(problem.message.contains("a.toml"), "{problem}");

    let missing = template_problem(Templates::load_dir(&dir.path().join("nowhere")));
    assert_eq!(missing.field, None);
}

fn template_problem<T: std::fmt::Debug>(result: Result<T, LicenceError>) -> TemplateProblem {
    match result {
        Err(LicenceError::Template(problem)) => problem,
        other => panic!("expected a template problem, got {other:?}"),
    }
}

fn assert_field_error(template: &Template, fields: &Value, key: &str, message: &str) {
    match template.check(fields, ISSUED_ON) {
        Err(LicenceError::Field { field, message: m }) => {
            assert_eq!(field, key);
            assert!(m.contains(message), "{m}");
        }
        other => panic!("expected a field error for {key}, got {other:?}"),
    }
}

#[test]
fn broken_templates_are_refused_naming_file_and_entry() {
    let cases: &[(&str, &str, &str, &str)] = &[
        // (replace, with, entry, message)
        (
            "type = \"date\"",
            "type = \"datetime\"",
            "fields[6].type",
            "unknown variant `datetime`",
        ),
        (
            "key = \"operator\"",
            "key = \"name\"",
            "fields[2].key",
            "duplicate key 'name'",
        ),
        (
            "holder_name_field = \"name\"",
            "holder_name_field = \"owner\"",
            "holder_name_field",
            "no field 'owner'",
        ),
        (
            "holder_code_field = \"credit_code\"",
            "holder_code_field = \"name\"",
            "holder_code_field",
            "credit_code or id_number",
        ),
        (
            "size_mm = 30.0",
            "size_mm = -30.0",
            "qr.size_mm",
            "not between",
        ),
        (
            "at = [16.0, 62.0]",
            "at = [16.0, 55.0]",
            "fields[2] (operator)",
            "overlaps fields[1] (name)",
        ),
        (
            "width_mm = 110.0\nheight_mm = 22.0",
            "width_mm = 200.0\nheight_mm = 22.0",
            "fields[5].width_mm",
            "not between",
        ),
        (
            "at = [132.0, 124.0]",
            "at = [132.0, 141.0]",
            "issue_date",
            "reaches outside the frame",
        ),
        (
            "centre = [170.0, 113.0]",
            "centre = [40.0, 60.0]",
            "seal.centre",
            "not over the issuer",
        ),
        (
            "values = [\"个人经营\", \"家庭经营\"]",
            "values = []",
            "fields[3].values",
            "needs its allowed values",
        ),
        (
            "values = [\"个人经营\", \"家庭经营\"]",
            "values = [\"个人经营\", \"个人经营\"]",
            "fields[3].values[1]",
            "duplicate value",
        ),
        (
            "type = \"enum\"",
            "type = \"text\"",
            "fields[3].values",
            "only for fields of type enum",
        ),
        (
            "validity = \"indefinite\"",
            "validity = { years = 0 }",
            "validity.years",
            "not between 1 and 100",
        ),
        (
            "validity = \"indefinite\"",
            "validity = { fields = { from = \"name\", to = \"registered_on\" } }",
            "validity.fields.from",
            "type date",
        ),
        (
            "type_code = \"11100000000013338W033\"",
            "type_code = \"11100000000013338W03\"",
            "type_code",
            "licence type code",
        ),
        (
            "colour = \"#B22222\"",
            "colour = \"red\"",
            "page.frames[0].colour",
            "#RRGGBB",
        ),
        (
            "[qr]",
            "[qr]\nshape = \"round\"",
            "qr.shape",
            "unknown field `shape`",
        ),
        (
            "kind = \"individual_business_licence\"",
            "kind = \"Individual\"",
            "kind",
            "lower-case",
        ),
    ];
    for (from, to, entry, message) in cases {
        assert!(SEVENTH.contains(from), "{from}");
        let text = SEVENTH.replacen(from, to, 1);
        let problem = template_problem(Template::parse("seventh.toml", &text));
        assert_eq!(problem.file, "seventh.toml");
        assert_eq!(problem.field.as_deref(), Some(*entry), "{problem}");
        assert!(problem.message.contains(message), "{problem}");
    }
    let numbered = SEVENTH.replace(
        "[qr]",
        "[number]\nkey = \"number\"\nformat = \"GT{code:form}{serial:04}\"\nlabel = \"编号\"\nat = [16.0, 130.0]\nwidth_mm = 100.0\n\n[qr]",
    );
    let problem = template_problem(Template::parse("seventh.toml", &numbered));
    assert_eq!(problem.field.as_deref(), Some("number.format"), "{problem}");
    assert!(
        problem.message.contains("with a code for every value"),
        "{problem}"
    );
    let unparsable = template_problem(Template::parse("seventh.toml", "kind = "));
    assert!(unparsable.message.contains("line 1"), "{unparsable}");
}

#[test]
fn fields_are_checked_by_type() {
    let templates = Templates::builtin().unwrap();
    let food = templates.get("food_business_permit").unwrap();
    let fields = sample("food_business_permit").fields;

    let mut joined = fields.clone();
    joined["business_items"] = json!("热食类食品制售；冷食类食品制售;");
    let checked = food.check(&joined, ISSUED_ON).unwrap();
    assert_eq!(
        checked.values["business_items"],
        FieldValue::List(vec!["热食类食品制售".into(), "冷食类食品制售".into()])
    );
    let mut wrong = fields.clone();
    wrong["business_items"] = json!(12);
    assert_field_error(food, &wrong, "business_items", "JSON array of strings");
    wrong["business_items"] = json!(["热食类食品制售", " "]);
    assert_field_error(food, &wrong, "business_items", "item 2");
    wrong["business_items"] = json!([]);
    assert_field_error(food, &wrong, "business_items", "经营项目 is required");
    let mut wrong = fields.clone();
    wrong["business_form"] = json!("网络食品销售");
    assert_field_error(
        food,
        &wrong,
        "business_form",
        "must be one of: 食品销售经营者, 餐饮服务经营者, 单位食堂",
    );
    let mut wrong = fields.clone();
    wrong["name"] = json!(["厦门"]);
    assert_field_error(food, &wrong, "name", "must be a string");
    let mut wrong = fields.clone();
    wrong["licence_number"] = json!("JY1");
    assert_field_error(food, &wrong, "licence_number", "not a field");

    let institution = templates.get("public_institution_certificate").unwrap();
    let mut wrong = sample("public_institution_certificate").fields;
    wrong["credit_code"] = json!("91350100M000100Y43");
    assert_field_error(institution, &wrong, "credit_code", "must start with 12");
    wrong.as_object_mut().unwrap().remove("name");
    wrong["credit_code"] = json!("12350200488032718J");
    // The label's spreading spaces (名　　称) stay out of the message.
    assert_field_error(institution, &wrong, "name", "名称 is required");
}

#[test]
fn validity_follows_the_rule() {
    let templates = Templates::builtin().unwrap();
    let food = templates.get("food_business_permit").unwrap();
    let fields = sample("food_business_permit").fields;
    let checked = food.check(&fields, date!(2024 - 02 - 29)).unwrap();
    assert_eq!(checked.valid_from, date!(2024 - 02 - 29));
    assert_eq!(checked.valid_to, Some(date!(2029 - 02 - 28)));
    let safety = templates.get("work_safety_permit").unwrap();
    let checked = safety
        .check(&sample("work_safety_permit").fields, ISSUED_ON)
        .unwrap();
    assert_eq!(checked.valid_to, Some(date!(2027 - 05 - 19)));

    let business = templates.get("business_licence").unwrap();
    let mut fields = sample("business_licence").fields;
    let checked = business.check(&fields, ISSUED_ON).unwrap();
    assert_eq!(
        (checked.valid_from, checked.valid_to),
        (date!(2021 - 03 - 15), None)
    );
    fields["operating_until"] = json!("2041-03-14");
    let checked = business.check(&fields, ISSUED_ON).unwrap();
    assert_eq!(checked.valid_to, Some(date!(2041 - 03 - 14)));
    fields["operating_until"] = json!("2020-01-01");
    assert_field_error(business, &fields, "operating_until", "ends before");
}

#[test]
fn numbers_follow_the_format_and_refuse_to_overflow() {
    let templates = Templates::builtin().unwrap();
    let food = templates.get("food_business_permit").unwrap();
    let mut checked = food
        .check(&sample("food_business_permit").fields, ISSUED_ON)
        .unwrap();
    let division = DivisionCode::parse("350203").unwrap();
    food.assign_number(&mut checked, &division, 999_999, ISSUED_ON)
        .unwrap();
    let number = checked.number.clone().unwrap();
    assert!(number.starts_with("JY2350203999999"), "{number}");
    assert_eq!(number.len(), 16);
    let problem =
        template_problem(food.assign_number(&mut checked, &division, 1_000_000, ISSUED_ON));
    assert_eq!(problem.field.as_deref(), Some("number.format"));

    let business = templates.get("business_licence").unwrap();
    let mut checked = business
        .check(&sample("business_licence").fields, ISSUED_ON)
        .unwrap();
    business
        .assign_number(&mut checked, &division, 1, ISSUED_ON)
        .unwrap();
    assert_eq!(checked.number, None);
    assert!(!checked.values.contains_key("licence_number"));
}
