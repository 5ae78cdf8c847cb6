//! The page's words in Norwegian bokmål (the default) and English. Figures,
//! dates and the rules engine's explanations are the same in both; the
//! engine's explanation sentences are written in English (as in the API).

/// A language the page speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Norsk bokmål.
    Nb,
    /// English.
    En,
}

impl Lang {
    /// From a `lang` value (`nb`, `no`, `en`, …): none when it names neither.
    pub fn parse(value: &str) -> Option<Self> {
        let primary = value.split(['-', '_']).next().unwrap_or("").trim();
        match primary.to_ascii_lowercase().as_str() {
            "nb" | "no" | "nn" => Some(Self::Nb),
            "en" => Some(Self::En),
            _ => None,
        }
    }

    /// The first of an `Accept-Language` header's languages the page speaks.
    pub fn from_accept_language(header: &str) -> Option<Self> {
        header
            .split(',')
            .filter_map(|part| Self::parse(part.split(';').next().unwrap_or("")))
            .next()
    }

    /// The code, as `lang=` and the `<html lang>` attribute write it.
    pub fn code(self) -> &'static str {
        match self {
            Self::Nb => "nb",
            Self::En => "en",
        }
    }

    /// The words in this language.
    pub fn text(self) -> &'static Text {
        match self {
            Self::Nb => &NB,
            Self::En => &EN,
        }
    }
}

/// Every fixed word of the page.
#[derive(Debug)]
pub struct Text {
    pub lang: &'static str,
    pub app_name: &'static str,
    pub skip_to_content: &'static str,
    pub language: &'static str,
    pub signed_in_as: &'static str,
    pub development_mode: &'static str,
    pub development_note: &'static str,
    pub role: &'static str,
    pub name: &'static str,
    pub municipality: &'static str,
    pub choose: &'static str,
    pub open: &'static str,
    pub worklist: &'static str,
    pub find_participant: &'static str,
    pub search: &'static str,
    pub search_hint: &'static str,
    pub no_match: &'static str,
    pub participant: &'static str,
    pub employee_number: &'static str,
    pub none: &'static str,
    pub work_kind: &'static str,
    pub month: &'static str,
    pub reason: &'static str,
    pub count: &'static str,
    pub nothing_awaits: &'static str,
    pub awaiting_for_participant: &'static str,
    pub absence_overview: &'static str,
    pub as_of: &'static str,
    pub self_certification: &'static str,
    pub self_cert_counted_after: &'static str,
    pub occurrences_used: &'static str,
    pub days_used: &'static str,
    pub days_left_in_occurrence: &'static str,
    pub occurrences_left: &'static str,
    pub available_from: &'static str,
    pub occurrence: &'static str,
    pub first_day: &'static str,
    pub last_day: &'static str,
    pub days: &'static str,
    pub leave: &'static str,
    pub child_sickness: &'static str,
    pub quota: &'static str,
    pub used: &'static str,
    pub left: &'static str,
    pub hours: &'static str,
    pub doubled_sole_carer: &'static str,
    pub entries_behind: &'static str,
    pub date: &'static str,
    pub kind: &'static str,
    pub within_quota: &'static str,
    pub turned_unexcused: &'static str,
    pub flag: &'static str,
    pub no_entries: &'static str,
    pub facts: &'static str,
    pub birth_date: &'static str,
    pub children: &'static str,
    pub sole_carer_periods: &'static str,
    pub benefit_offsets: &'static str,
    pub programmes: &'static str,
    pub from: &'static str,
    pub to: &'static str,
    pub amount: &'static str,
    pub reference: &'static str,
    pub correct: &'static str,
    pub months: &'static str,
    pub the_month: &'static str,
    pub line: &'static str,
    pub quantity: &'static str,
    pub legal_reference: &'static str,
    pub explanation: &'static str,
    pub total: &'static str,
    pub computed_now: &'static str,
    pub paid_in_runs: &'static str,
    pub run_month: &'static str,
    pub paid_total: &'static str,
    pub not_paid_yet: &'static str,
    pub difference: &'static str,
    pub difference_note: &'static str,
    pub flags: &'static str,
    pub entries_of_month: &'static str,
    pub pending: &'static str,
    pub deducted: &'static str,
    pub sanction_procedure: &'static str,
    pub sanction_intro: &'static str,
    pub awaiting_warning: &'static str,
    pub awaiting_decision: &'static str,
    pub give_warning: &'static str,
    pub given_on: &'static str,
    pub channel: &'static str,
    pub channel_in_person: &'static str,
    pub channel_letter: &'static str,
    pub channel_digital: &'static str,
    pub decide: &'static str,
    pub outcome: &'static str,
    pub approve_deduction: &'static str,
    pub reject_deduction: &'static str,
    pub reasoning: &'static str,
    pub decisions: &'static str,
    pub warnings: &'static str,
    pub decided_by: &'static str,
    pub appeal_deadline: &'static str,
    pub recorded_by: &'static str,
    pub fact: &'static str,
    pub versions: &'static str,
    pub version: &'static str,
    pub change: &'static str,
    pub recorded_at: &'static str,
    pub correct_fact: &'static str,
    pub correct_hint: &'static str,
    pub save_correction: &'static str,
    pub void_fact: &'static str,
    pub void_hint: &'static str,
    pub void_button: &'static str,
    pub fact_is_void: &'static str,
    pub saved_warning: &'static str,
    pub saved_decision: &'static str,
    pub saved_appeal: &'static str,
    pub saved_appeal_outcome: &'static str,
    pub appeal: &'static str,
    pub appeals_intro: &'static str,
    pub register_appeal: &'static str,
    pub received_on: &'static str,
    pub appeal_open: &'static str,
    pub appeal_decided: &'static str,
    pub decide_appeal: &'static str,
    pub decided_on: &'static str,
    pub upheld: &'static str,
    pub partly_upheld: &'static str,
    pub dismissed: &'static str,
    pub hours_still_deducted: &'static str,
    pub saved_correction: &'static str,
    pub saved_void: &'static str,
    pub read_only: &'static str,
    pub error_title: &'static str,
    pub back: &'static str,
    pub yes: &'static str,
    pub no: &'static str,
}

impl Text {
    /// A work item kind's name.
    pub fn work_kind(&self, kind: &str) -> &'static str {
        let nb = self.lang == "nb";
        match kind {
            "held_participant" if nb => "Holdt tilbake i lønnskjøringen",
            "held_participant" => "Held in the pay run",
            "missing_timesheet" if nb => "Timeliste mangler",
            "missing_timesheet" => "Timesheet missing",
            "late_timesheet" if nb => "Timeliste kom for sent",
            "late_timesheet" => "Timesheet late",
            "absence_awaiting_warning" if nb => "Ugyldig fravær venter på varsel",
            "absence_awaiting_warning" => "Unexcused absence awaiting a warning",
            "absence_awaiting_decision" if nb => "Ugyldig fravær venter på vedtak",
            "absence_awaiting_decision" => "Unexcused absence awaiting a decision",
            "open_appeal" if nb => "Klage venter på avgjørelse",
            "open_appeal" => "Appeal awaiting its outcome",
            "programme_beyond_approved_period" if nb => "Program utover innvilget periode",
            "programme_beyond_approved_period" => "Programme past its approved period",
            "programme_beyond_years_without_exception" if nb => {
                "Program over to år uten unntaksvedtak"
            }
            "programme_beyond_years_without_exception" => {
                "Programme past two years without an exception"
            }
            "programme_beyond_maximum_years" if nb => "Program over lengste tillatte tid",
            "programme_beyond_maximum_years" => "Programme past the longest allowed",
            _ if nb => "Annen oppgave",
            _ => "Other work",
        }
    }

    /// A day entry kind's name (`SICK_SELF`).
    pub fn entry_kind(&self, kind: &str) -> &'static str {
        let nb = self.lang == "nb";
        match kind {
            "ATTENDED" if nb => "Deltatt",
            "ATTENDED" => "Attended",
            "PAID_WORK" if nb => "Lønnet arbeid",
            "PAID_WORK" => "Paid work",
            "SICK_SELF" if nb => "Egenmelding",
            "SICK_SELF" => "Self-certified sickness",
            "SICK_CERTIFIED" if nb => "Sykmelding",
            "SICK_CERTIFIED" => "Certified sickness",
            "CHILD_SICK" if nb => "Barns sykdom",
            "CHILD_SICK" => "Child's sickness",
            "WELFARE" if nb => "Velferdspermisjon",
            "WELFARE" => "Welfare leave",
            "LEAVE" if nb => "Permisjon/ferie",
            "LEAVE" => "Leave or holiday",
            "APPROVED_UNPAID" if nb => "Godkjent fravær uten stønad",
            "APPROVED_UNPAID" => "Approved unpaid absence",
            "UNEXCUSED" if nb => "Ugyldig fravær",
            "UNEXCUSED" => "Unexcused absence",
            _ => "?",
        }
    }

    /// A flag's name (`SELF_CERT_QUOTA_EXCEEDED`).
    pub fn flag(&self, flag: &str) -> String {
        let nb = self.lang == "nb";
        let words = match flag {
            "SELF_CERT_QUOTA_EXCEEDED" if nb => "Egenmeldingskvoten er overskredet",
            "SELF_CERT_QUOTA_EXCEEDED" => "Self-certification quota exceeded",
            "LEAVE_QUOTA_EXCEEDED" if nb => "Permisjonskvoten er overskredet",
            "LEAVE_QUOTA_EXCEEDED" => "Leave quota exceeded",
            "CHILD_SICK_QUOTA_EXCEEDED" if nb => "Kvoten for barns sykdom er overskredet",
            "CHILD_SICK_QUOTA_EXCEEDED" => "Child's-sickness quota exceeded",
            "UNEXCUSED_PENDING_DECISION" if nb => "Ugyldig fravær venter på vedtak",
            "UNEXCUSED_PENDING_DECISION" => "Unexcused absence awaiting a decision",
            "DAYS_WITHHELD_NO_TIMESHEET" if nb => "Dager holdt tilbake: timeliste mangler",
            "DAYS_WITHHELD_NO_TIMESHEET" => "Days withheld: no timesheet",
            "LONG_SICKNESS" if nb => "Langvarig sykdom",
            "LONG_SICKNESS" => "Long sickness",
            "G_REGULATION_PENDING" if nb => "G-regulering venter",
            "G_REGULATION_PENDING" => "G regulation pending",
            other => return other.to_owned(),
        };
        format!("{words} ({flag})")
    }

    /// A pay line's name (`KVP_BASE`).
    pub fn line(&self, code: &str) -> &'static str {
        let nb = self.lang == "nb";
        match code {
            "KVP_BASE" if nb => "Kvalifiseringsstønad",
            "KVP_BASE" => "Qualification stipend",
            "KVP_DEDUCTION_WAGE" if nb => "Trekk for lønnet arbeid",
            "KVP_DEDUCTION_WAGE" => "Deduction for paid work",
            "KVP_DEDUCTION_UNPAID_LEAVE" if nb => "Trekk for fravær uten stønad",
            "KVP_DEDUCTION_UNPAID_LEAVE" => "Deduction for unpaid absence",
            "KVP_DEDUCTION_ABSENCE" if nb => "Trekk for ugyldig fravær",
            "KVP_DEDUCTION_ABSENCE" => "Deduction for unexcused absence",
            "KVP_CHILD_SUPPLEMENT" if nb => "Barnetillegg",
            "KVP_CHILD_SUPPLEMENT" => "Child supplement",
            "KVP_DEDUCTION_OTHER_BENEFITS" if nb => "Fradrag for andre ytelser",
            "KVP_DEDUCTION_OTHER_BENEFITS" => "Deduction for other benefits",
            _ if nb => "Korrigering",
            _ => "Correction",
        }
    }

    /// A role's name.
    pub fn role_name(&self, role: &str) -> &'static str {
        let nb = self.lang == "nb";
        match role {
            "caseworker" if nb => "Veileder",
            "caseworker" => "Caseworker",
            "payroll_operator" if nb => "Lønnsmedarbeider",
            "payroll_operator" => "Payroll operator",
            "auditor" if nb => "Revisor",
            "auditor" => "Auditor",
            "administrator" if nb => "Administrator",
            "administrator" => "Administrator",
            _ => "?",
        }
    }

    /// A fact kind's name (its path segment, `benefit-offsets`).
    pub fn fact_kind(&self, segment: &str) -> &'static str {
        let nb = self.lang == "nb";
        match segment {
            "children" if nb => "Barn",
            "children" => "Child",
            "sole-carer-periods" if nb => "Periode som eneomsorg",
            "sole-carer-periods" => "Sole-carer period",
            "benefit-offsets" if nb => "Annen ytelse",
            "benefit-offsets" => "Other benefit",
            "programmes" if nb => "Programvedtak",
            "programmes" => "Programme decision",
            "pauses" if nb => "Avbrudd",
            "pauses" => "Pause",
            "sanction-decisions" if nb => "Vedtak om trekk",
            "sanction-decisions" => "Sanction decision",
            _ => "?",
        }
    }
}

static NB: Text = Text {
    lang: "nb",
    app_name: "KVP lønn – veileder",
    skip_to_content: "Hopp til innholdet",
    language: "Språk",
    signed_in_as: "Innlogget som",
    development_mode: "Utviklingsmodus",
    development_note: "Utviklingsmodus: ingen innlogging. Velg rolle, navn og kommune.",
    role: "Rolle",
    name: "Navn",
    municipality: "Kommune",
    choose: "Velg",
    open: "Åpne",
    worklist: "Arbeidsliste",
    find_participant: "Finn deltaker",
    search: "Søk",
    search_hint: "Navn, eller de siste sifrene i ansattnummeret",
    no_match: "Ingen deltakere passer søket.",
    participant: "Deltaker",
    employee_number: "Ansattnummer",
    none: "ingen",
    work_kind: "Oppgave",
    month: "Måned",
    reason: "Begrunnelse",
    count: "Antall",
    nothing_awaits: "Ingenting venter.",
    awaiting_for_participant: "Oppgaver for deltakeren",
    absence_overview: "Fraværsoversikt",
    as_of: "Per",
    self_certification: "Egenmelding (siste 12 måneder)",
    self_cert_counted_after: "Tilfeller som startet etter",
    occurrences_used: "Tilfeller brukt",
    days_used: "Dager brukt",
    days_left_in_occurrence: "Dager igjen i pågående eller nytt tilfelle",
    occurrences_left: "Tilfeller igjen",
    available_from: "Egenmelding kan brukes fra",
    occurrence: "Tilfelle",
    first_day: "Første dag",
    last_day: "Siste dag",
    days: "Dager",
    leave: "Permisjon og ferie (kalenderåret)",
    child_sickness: "Barns sykdom (kalenderåret)",
    quota: "Kvote",
    used: "Brukt",
    left: "Igjen",
    hours: "Timer",
    doubled_sole_carer: "Kvoten er doblet: deltakeren har eneomsorg.",
    entries_behind: "Registreringene bak tallene",
    date: "Dato",
    kind: "Type",
    within_quota: "Innenfor kvoten (timer)",
    turned_unexcused: "Blir ugyldig fravær (timer)",
    flag: "Merknad",
    no_entries: "Ingen registreringer.",
    facts: "Opplysninger",
    birth_date: "Fødselsdato",
    children: "Barn",
    sole_carer_periods: "Perioder med eneomsorg",
    benefit_offsets: "Andre ytelser",
    programmes: "Programvedtak",
    from: "Fra",
    to: "Til",
    amount: "Beløp",
    reference: "Referanse",
    correct: "Rett",
    months: "Måneder",
    the_month: "Måneden",
    line: "Linje",
    quantity: "Antall",
    legal_reference: "Hjemmel",
    explanation: "Forklaring",
    total: "Sum",
    computed_now: "Beregnet nå",
    paid_in_runs: "Utbetalt i lønnskjøringer",
    run_month: "Kjøring for",
    paid_total: "Sum utbetalt",
    not_paid_yet: "Ingenting er utbetalt for måneden ennå.",
    difference: "Endring siden siste kjøring",
    difference_note: "Forskjellen mellom det som er beregnet nå og det som er utbetalt; neste kjøring etterbetaler eller trekker den inn.",
    flags: "Merknader",
    entries_of_month: "Fravær i måneden",
    pending: "Venter (timer)",
    deducted: "Trekkes (timer)",
    sanction_procedure: "Trekk for ugyldig fravær (§ 36)",
    sanction_intro: "Timer som venter: først varsel, så vedtak. Et vedtak om trekk krever varsel om timene.",
    awaiting_warning: "Venter på varsel",
    awaiting_decision: "Varslet, venter på vedtak",
    give_warning: "Registrer varsel",
    given_on: "Gitt dato",
    channel: "Kanal",
    channel_in_person: "Personlig",
    channel_letter: "Brev",
    channel_digital: "Digitalt",
    decide: "Registrer vedtak",
    outcome: "Utfall",
    approve_deduction: "Trekk (godkjent)",
    reject_deduction: "Ikke trekk (avslått)",
    reasoning: "Begrunnelse til deltakeren",
    decisions: "Vedtak om trekk",
    warnings: "Varsler",
    decided_by: "Vedtatt av",
    appeal_deadline: "Klagefrist",
    recorded_by: "Registrert av",
    fact: "Opplysning",
    versions: "Versjoner",
    version: "Versjon",
    change: "Endring",
    recorded_at: "Registrert",
    correct_fact: "Rett opplysningen",
    correct_hint: "Skriv opplysningen slik den skal være. Neste kjøring etterbetaler eller trekker inn forskjellen for månedene den gjelder.",
    save_correction: "Lagre rettingen",
    void_fact: "Annuller opplysningen",
    void_hint: "Opplysningen teller ikke lenger fra første måned den gjaldt; versjonene blir stående.",
    void_button: "Annuller",
    fact_is_void: "Opplysningen er annullert.",
    saved_warning: "Varselet er registrert.",
    saved_decision: "Vedtaket er registrert, og måneden er beregnet på nytt.",
    saved_appeal: "Klagen er registrert.",
    saved_appeal_outcome: "Klagen er avgjort, og måneden er beregnet på nytt.",
    appeal: "Klage",
    appeals_intro: "En klage på et vedtak om trekk registreres når den kommer inn, og avgjøres senere.",
    register_appeal: "Registrer klage",
    received_on: "Mottatt dato",
    appeal_open: "Klage mottatt, venter på avgjørelse",
    appeal_decided: "Klage avgjort",
    decide_appeal: "Registrer avgjørelse",
    decided_on: "Avgjort dato",
    upheld: "Tatt til følge (trekket oppheves)",
    partly_upheld: "Delvis tatt til følge (færre timer trekkes)",
    dismissed: "Ikke tatt til følge (vedtaket står)",
    hours_still_deducted: "Timer som fortsatt trekkes (ved delvis medhold)",
    saved_correction: "Rettingen er lagret.",
    saved_void: "Opplysningen er annullert.",
    read_only: "Rollen din kan lese, ikke endre.",
    error_title: "Det gikk ikke",
    back: "Tilbake",
    yes: "ja",
    no: "nei",
};

static EN: Text = Text {
    lang: "en",
    app_name: "KVP payroll – caseworker",
    skip_to_content: "Skip to content",
    language: "Language",
    signed_in_as: "Signed in as",
    development_mode: "Development mode",
    development_note: "Development mode: no sign-in. Choose a role, a name and a municipality.",
    role: "Role",
    name: "Name",
    municipality: "Municipality",
    choose: "Choose",
    open: "Open",
    worklist: "Worklist",
    find_participant: "Find a participant",
    search: "Search",
    search_hint: "Name, or the last digits of the employee number",
    no_match: "No participant matches.",
    participant: "Participant",
    employee_number: "Employee number",
    none: "none",
    work_kind: "Work",
    month: "Month",
    reason: "Reason",
    count: "Count",
    nothing_awaits: "Nothing awaits.",
    awaiting_for_participant: "Work for this participant",
    absence_overview: "Absence overview",
    as_of: "As of",
    self_certification: "Self-certification (last 12 months)",
    self_cert_counted_after: "Occurrences that started after",
    occurrences_used: "Occurrences used",
    days_used: "Days used",
    days_left_in_occurrence: "Days left in the running or a new occurrence",
    occurrences_left: "Occurrences left",
    available_from: "Self-certification allowed from",
    occurrence: "Occurrence",
    first_day: "First day",
    last_day: "Last day",
    days: "Days",
    leave: "Leave and holiday (calendar year)",
    child_sickness: "Child's sickness (calendar year)",
    quota: "Quota",
    used: "Used",
    left: "Left",
    hours: "Hours",
    doubled_sole_carer: "The quota is doubled: the participant is a sole carer.",
    entries_behind: "The entries behind the figures",
    date: "Date",
    kind: "Kind",
    within_quota: "Within the quota (hours)",
    turned_unexcused: "Turned unexcused (hours)",
    flag: "Flag",
    no_entries: "No entries.",
    facts: "Facts",
    birth_date: "Birth date",
    children: "Children",
    sole_carer_periods: "Periods as sole carer",
    benefit_offsets: "Other benefits",
    programmes: "Programme decisions",
    from: "From",
    to: "To",
    amount: "Amount",
    reference: "Reference",
    correct: "Correct",
    months: "Months",
    the_month: "The month",
    line: "Line",
    quantity: "Quantity",
    legal_reference: "Legal reference",
    explanation: "Explanation",
    total: "Total",
    computed_now: "Computed now",
    paid_in_runs: "Paid in pay runs",
    run_month: "Run for",
    paid_total: "Total paid",
    not_paid_yet: "Nothing has been paid for the month yet.",
    difference: "Change since the last run",
    difference_note: "What is computed now less what was paid; the next run pays or recovers it.",
    flags: "Flags",
    entries_of_month: "Absence in the month",
    pending: "Pending (hours)",
    deducted: "Deducted (hours)",
    sanction_procedure: "Deduction for unexcused absence (§ 36)",
    sanction_intro: "Hours awaiting: first a warning, then a decision. A deduction needs a warning about the hours.",
    awaiting_warning: "Awaiting a warning",
    awaiting_decision: "Warned, awaiting a decision",
    give_warning: "Record a warning",
    given_on: "Given on",
    channel: "Channel",
    channel_in_person: "In person",
    channel_letter: "Letter",
    channel_digital: "Digital",
    decide: "Record a decision",
    outcome: "Outcome",
    approve_deduction: "Deduct (approved)",
    reject_deduction: "Do not deduct (rejected)",
    reasoning: "Reasoning given to the participant",
    decisions: "Sanction decisions",
    warnings: "Warnings",
    decided_by: "Decided by",
    appeal_deadline: "Appeal deadline",
    recorded_by: "Recorded by",
    fact: "Fact",
    versions: "Versions",
    version: "Version",
    change: "Change",
    recorded_at: "Recorded",
    correct_fact: "Correct the fact",
    correct_hint: "Write the fact as it should be. The next run pays or recovers the difference for the months it reaches.",
    save_correction: "Save the correction",
    void_fact: "Void the fact",
    void_hint: "The fact no longer counts, from the first month it reached; its versions stay.",
    void_button: "Void",
    fact_is_void: "The fact is void.",
    saved_warning: "The warning is recorded.",
    saved_decision: "The decision is recorded and the month computed again.",
    saved_appeal: "The appeal is recorded.",
    saved_appeal_outcome: "The appeal is decided and the month computed again.",
    appeal: "Appeal",
    appeals_intro: "An appeal against a deduction is recorded when it arrives and decided later.",
    register_appeal: "Record an appeal",
    received_on: "Received on",
    appeal_open: "Appeal received, awaiting its outcome",
    appeal_decided: "Appeal decided",
    decide_appeal: "Record the outcome",
    decided_on: "Decided on",
    upheld: "Upheld (the deduction is reversed)",
    partly_upheld: "Partly upheld (fewer hours deducted)",
    dismissed: "Dismissed (the decision stands)",
    hours_still_deducted: "Hours still deducted (partly upheld)",
    saved_correction: "The correction is saved.",
    saved_void: "The fact is void.",
    read_only: "Your role may read, not change.",
    error_title: "That did not work",
    back: "Back",
    yes: "yes",
    no: "no",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn languages_are_read_from_the_query_and_accept_language() {
        assert_eq!(Lang::parse("en"), Some(Lang::En));
        assert_eq!(Lang::parse("nb-NO"), Some(Lang::Nb));
        assert_eq!(Lang::parse("de"), None);
        assert_eq!(
            Lang::from_accept_language("de-DE,en-GB;q=0.8,nb;q=0.5"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("fr"), None);
    }

    #[test]
    fn every_known_name_has_words_in_both_languages() {
        for kind in [
            "held_participant",
            "missing_timesheet",
            "late_timesheet",
            "absence_awaiting_warning",
            "absence_awaiting_decision",
            "open_appeal",
            "programme_beyond_approved_period",
            "programme_beyond_years_without_exception",
            "programme_beyond_maximum_years",
        ] {
            assert_ne!(NB.work_kind(kind), EN.work_kind(kind), "{kind}");
            assert_ne!(NB.work_kind(kind), NB.work_kind("unknown"), "{kind}");
        }
        // Every code the rules engine pays has its own words.
        for code in kvp_rules::LineCode::ALL.map(kvp_rules::LineCode::as_str) {
            assert_ne!(NB.line(code), NB.line("OTHER"), "{code}");
        }
        assert_eq!(
            NB.flag("SELF_CERT_QUOTA_EXCEEDED"),
            "Egenmeldingskvoten er overskredet (SELF_CERT_QUOTA_EXCEEDED)"
        );
    }
}
