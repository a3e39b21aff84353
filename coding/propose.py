"""`propose(text, suggestions, context)`: the ranked list and the encounter in, the claim-ready coding out.

A pure function of its inputs and the loaded code sets (rule data is read once per process). The steps run
in guideline order: candidates by assertion and setting, combination codes, 7th characters and BMI, integral
symptoms, unspecified siblings, instruction notes, Excludes1, then sequence, POA, procedures and the MS-DRG.
"""

from __future__ import annotations

from collections.abc import Sequence

from codesets.registry import load_codeset
from codesets.types import normalize_code
from coding import diagnoses, procedures, siblings, specifics, titles
from coding.draft import Draft
from coding.rules import guidelines
from coding.sequence import order, present_on_admission
from coding.text import NoteText
from coding.types import CodedDiagnosisProposal, CodedProcedureProposal, Coding, CodingContext
from medcode.settings import get_settings
from medcode.types import Suggestion
from validation.drg import group
from validation.types import CodedDiagnosis, CodedProcedure, DrgResult, Encounter

#: Weight diagnoses a BMI code is reported with (I.B.14): overweight and obesity, malnutrition, underweight.
_WEIGHT_CONDITIONS = ("E66", "E40", "E41", "E42", "E43", "E44", "E45", "E46", "R63.6", "R636", "E88.A")


def propose(text: str, suggestions: Sequence[Suggestion], context: CodingContext) -> Coding:
    """The coding a certified coder would bill for the note: `suggestions` is the engine's full ranked list with
    negated codes flagged (`Coder.suggest(text, negated="flag", top=settings.coding.top)`)."""
    settings = get_settings().coding
    cm = load_codeset("ICD-10-CM")
    pcs = load_codeset("ICD-10-PCS")
    g = guidelines()
    note = NoteText(text, suggestions)
    draft = Draft()
    ranked = sorted(suggestions, key=lambda s: s.rank)

    diagnoses.intake(draft, ranked, context, cm, g, note, min_score=settings.min_score,
                     listed_score=settings.listed_score, stated_score=settings.stated_score)
    diagnoses.combinations(draft, note, context, cm, g)
    titles.title_combinations(draft, cm)
    specifics.episode(draft, note, context, cm, g)
    specifics.bmi(draft, note, context, cm, _WEIGHT_CONDITIONS)
    specifics.nihss(draft, note, cm)
    specifics.gestation(draft, note, cm)
    diagnoses.integral_symptoms(draft, g)
    siblings.residual_codes(draft)
    siblings.unstated_defaults(draft, note, cm, g)
    siblings.unspecified_siblings(draft, note, cm, g)
    diagnoses.instruction_codes(draft, ranked, context, cm, min_score=settings.instruction_score)
    siblings.unspecified_siblings(draft, note, cm, g)  # again: an instruction may have brought the specified sibling
    diagnoses.integral_symptoms(draft, g)
    diagnoses.resolve_excludes1(draft, cm)
    procedures.intake(draft, ranked, context, pcs, note, g, min_score=settings.min_score,
                      unreported=settings.unreported_pcs_sections)
    procedures.built(draft, ranked, context, pcs, note, unreported=settings.unreported_pcs_sections)

    early = {e.key: present_on_admission(e, note, context, g, principal=False) for e in draft.diagnoses()}
    dx = order(draft.diagnoses(), note, context, g, cm, early, min_score=settings.min_score)
    coded_dx = [
        CodedDiagnosisProposal(code=e.code, description=e.description, sequence=i, principal=i == 1,
                               poa=present_on_admission(e, note, context, g, principal=i == 1),
                               evidence=sorted(e.evidence, key=lambda ev: ev.start), rules=e.rules,
                               score=e.score)
        for i, e in enumerate(dx, start=1)
    ]
    px = procedures.order(draft.procedures())
    coded_px = [
        CodedProcedureProposal(code=e.code, system=e.system, description=e.description, sequence=i,
                               principal=i == 1, evidence=sorted(e.evidence, key=lambda ev: ev.start),
                               rules=e.rules, score=e.score)
        for i, e in enumerate(px, start=1)
    ]
    # Drops by a guideline first, then candidates below the threshold, each group best-ranked first; a code a
    # rule brought back in (the NIHSS score a candidate below the threshold named) is not listed as left out.
    coded = {(e.system, e.key) for e in draft}
    dropped = sorted((d for d in draft.dropped if (d.system, normalize_code(d.code)) not in coded),
                     key=lambda d: d.rule == "not-supported")[: settings.max_dropped]
    return Coding(context=context, diagnoses=coded_dx, procedures=coded_px, drg=_drg(context, coded_dx, coded_px),
                  dropped=dropped)


def _drg(context: CodingContext, dx: list[CodedDiagnosisProposal], px: list[CodedProcedureProposal]) -> DrgResult | None:
    """The MS-DRG of the coding (inpatient with a principal diagnosis), by validation's grouper."""
    if context.setting != "inpatient" or not dx:
        return None
    encounter = Encounter(
        setting="inpatient", date_of_service=context.date_of_service, patient=context.patient,
        diagnoses=[CodedDiagnosis(code=d.code, principal=d.principal, poa=d.poa if d.poa != "1" else None)
                   for d in dx[:100]],
        procedures=[CodedProcedure(code=p.code) for p in px[:100] if p.system == "ICD-10-PCS"])
    return group(encounter)
