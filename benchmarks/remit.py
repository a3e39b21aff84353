"""How long a 1,000-claim X12 835 takes to import (`python -m benchmarks.remit [--claims N]`).

A payer's file of the real layout is generated: every claim with two or three CAS segments of several
adjustments, one in five with a service line, one in five denied for a coding reason (CARC 16 with MA63
or M76, 167, 146, 236), a few claim ids that match no encounter. It is imported into a fresh SQLite
store holding as many submitted inpatient encounters, as `POST /v1/remittances` does: parse with pyx12,
match, judge, store, in one transaction. The figure is printed, never asserted.
"""

from __future__ import annotations

import argparse
import os
import datetime as dt
import tempfile
import time
import uuid
from pathlib import Path

from claims.remittance import read_835
from medcode.settings import get_settings
from serving.remittances import import_835
from serving.store.db import Store
from serving.store.models import Encounter, utcnow

CODING = [("CAS*CO*16*{a}", "MIA*0****MA63"), ("CAS*CO*167*{a}", None), ("CAS*CO*146*{a}", None),
          ("CAS*CO*16*{a}", "MOA***M76")]


def make_835(claim_ids: list[str]) -> str:
    """An 835 interchange answering `claim_ids` (005010X221A1 layout, one transaction set)."""
    body = ["ST*835*0001", "BPR*I*100000*C*ACH*CCP*01*999999999*DA*123456*1512345678**01*999988880*DA*98765*20260515",
            "TRN*1*EFT0000999*1512345678", "DTM*405*20260514", "N1*PR*ACME HEALTH PLAN", "N3*100 PAYER WAY",
            "N4*HARTFORD*CT*06101", "PER*BL*PROVIDER SERVICES*TE*8005551212", "N1*PE*GENERAL HOSPITAL*XX*1234567893",
            "N3*1 HOSPITAL DR", "N4*SPRINGFIELD*IL*62701", "REF*TJ*370000000", "LX*1"]
    for i, claim_id in enumerate(claim_ids):
        denied = i % 5 == 0
        body.append(f"CLP*{claim_id}*{4 if denied else 1}*1500*{0 if denied else 1200}*100*MA*PAYER{i:07d}*11*1")
        if denied:
            cas, remark = CODING[(i // 5) % len(CODING)]
            body.append(cas.format(a=1400))
        else:
            body.append("CAS*CO*45*150*1*253*50")
            remark = "MOA***MA01"
        body.append("CAS*PR*1*50**2*50")
        body.append(f"NM1*QC*1*PATIENT*TEST****MI*{i:09d}A")
        if remark:
            body.append(remark)
        body.append("DTM*232*20260501")
        if i % 5 == 1:
            body += ["SVC*HC:93000*100*0**1", "DTM*472*20260501", "CAS*CO*236*100"]
    body.append(f"SE*{len(body) + 1}*0001")
    isa = "ISA*00*          *00*          *ZZ*ACMEPAYER      *ZZ*GENHOSP        *260515*0930*^*00501*000000999*0*P*:"
    segments = [isa,
                "GS*HP*ACMEPAYER*GENHOSP*20260515*0930*999*X*005010X221A1", *body, "GE*1*999", "IEA*1*000000999"]
    return "~\n".join(segments) + "~\n"


def seed(store: Store, claim_ids: list[str]) -> None:
    """Submitted inpatient encounters with a principal, a secondary and a procedure, one per claim id."""
    final = [{"code": c, "system": s, "description": "", "source": "added", "replaces": None, "decided_by": "bench",
              "decided_at": utcnow().isoformat()} for s, c in (("ICD-10-CM", "I50.23"), ("ICD-10-CM", "E11.9"),
                                                                 ("ICD-10-PCS", "02703ZZ"))]
    with store.session() as session:
        session.add_all(Encounter(id=uuid.uuid4().hex, external_id=claim_id, note="(benchmark)", setting="inpatient",
                                  date_of_service=dt.date(2026, 5, 1), patient_age=70, patient_sex="female",
                                  suggestions=[], findings=[], status="submitted", created_at=utcnow(),
                                  created_by="bench", submitted_at=utcnow(), submitted_by="bench", final_codes=final)
                        for claim_id in claim_ids)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--claims", type=int, default=1000)
    args = parser.parse_args()
    claim_ids = [f"ENC-{i:06d}" for i in range(args.claims)]
    # One in fifty matches no encounter, as when another system billed the claim.
    known = [c for i, c in enumerate(claim_ids) if i % 50 != 49]
    text = make_835(claim_ids).encode("ascii")
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        seed(store, known)
        settings = get_settings()
        import validation

        validation.warm()  # the grouper's tables load once per process, as the server does at start
        started, cpu = time.perf_counter(), time.process_time()
        parsed = read_835(text)
        parse_s, parse_cpu = time.perf_counter() - started, time.process_time() - cpu
        started, cpu = time.perf_counter(), time.process_time()
        with store.session() as session:
            result = import_835(session, text, settings, "bench")
        import_s, import_cpu = time.perf_counter() - started, time.process_time() - cpu
        store.close()
    adjustments = sum(len(c.adjustments) for c in parsed[0].claims)
    print(f"835 of {args.claims} claims, {len(text) / 1024:.0f} KiB, {adjustments} claim-level adjustments")
    # Wall time follows how busy the machine is; the CPU time of this process says what the work costs.
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"parse alone (pyx12): {parse_s:.2f} s wall, {parse_cpu:.2f} s CPU")
    print(f"import (parse, match, judge, store; one transaction): {import_s:.2f} s wall, {import_cpu:.2f} s CPU  "
          f"[{result.matched} matched, {len(result.unmatched)} unmatched, {result.adjustments} adjustments, "
          f"{result.coding_denials} coding denials, {len(result.denied)} encounters reopened]")


if __name__ == "__main__":
    main()
