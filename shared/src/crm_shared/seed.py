"""`crm seed`: realistic demo data through the public APIs and the ERP topic, so a newcomer
running `make dev` sees a living system and benchmarks have data.

Per customer: a person (with email, phone, consent, a logged call) working at one of the
companies; for some, a lead, a deal that is won or lost, the ERP's order and invoice for a won
deal, and a support ticket. Everything goes through HTTP (or the ERP's Kafka topic), never into
a database directly.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx

from crm_shared.events.envelope import Envelope, dumps
from crm_shared.events.erp import InvoicePaid, OrderPlaced

FIRST = [
    "Anna",
    "Piotr",
    "Maria",
    "Jan",
    "Ewa",
    "Tomasz",
    "Olga",
    "Ivan",
    "Lena",
    "Marek",
    "Zofia",
    "Pavel",
    "Irina",
    "Adam",
    "Nina",
    "Oskar",
    "Vera",
    "Karol",
    "Daria",
    "Emil",
]
LAST = [
    "Nowak",
    "Kowalski",
    "Wiśniewska",
    "Ivanova",
    "Petrov",
    "Zielińska",
    "Smirnov",
    "Lewandowski",
    "Kamińska",
    "Sokolov",
    "Wójcik",
    "Novak",
    "Kozlova",
    "Mazur",
]
COMPANY = [
    "Orbis",
    "Polmet",
    "Agrotex",
    "Baltic",
    "Vistula",
    "Nord",
    "Sigma",
    "Tatra",
    "Amber",
    "Kama",
    "Volga",
    "Lotos",
    "Sudety",
    "Warta",
]
SUFFIX = ["Sp. z o.o.", "S.A.", "Group", "Trading", "Logistics"]
INDUSTRIES = ["retail", "manufacturing", "logistics", "software", "finance", "energy"]
COUNTRIES = ["PL", "DE", "CZ", "LT", "UA", "SK"]
STAGES = [
    ("Qualification", 10, "open"),
    ("Proposal", 40, "open"),
    ("Negotiation", 70, "open"),
    ("Won", 100, "won"),
    ("Lost", 0, "lost"),
]

CAMPAIGNS = [
    ("Spring newsletter", "email", "1500.00"),
    ("Trade fair Poznań", "event", "8000.00"),
    ("Reactivation calls", "phone", "2500.00"),
]

Publish = Callable[[Envelope], Any]


@dataclass
class SeedReport:
    companies: int = 0
    campaigns: int = 0
    people: int = 0
    leads: int = 0
    deals_won: int = 0
    deals_lost: int = 0
    orders: int = 0
    tickets: int = 0
    errors: list[str] = field(default_factory=list)


class Seeder:
    """Seeds one tenant. `clients` maps a service name to an httpx client for its API."""

    def __init__(
        self,
        clients: Mapping[str, httpx.AsyncClient],
        tenant: str,
        publish: Publish,
        *,
        seed: int = 7,
    ) -> None:
        self.clients, self.tenant, self.publish = clients, tenant, publish
        self.random = random.Random(seed)
        self.report = SeedReport()
        self.run_id = uuid.uuid4().hex[:6]

    async def prepare(self, companies: int) -> tuple[list[str], str, dict[str, str]]:
        company_ids = [await self._company(i) for i in range(companies)]
        for name, channel, budget in CAMPAIGNS:
            await self._post(
                "campaigns",
                "/v1/campaigns",
                {
                    "name": f"{name} {self.run_id}",
                    "channel": channel,
                    "budget": budget,
                    "currency": "PLN",
                    "goal": "Win back quiet customers",
                    "planned_start": (datetime.now(UTC) + timedelta(days=7)).isoformat(),
                    "planned_end": (datetime.now(UTC) + timedelta(days=21)).isoformat(),
                },
            )
            self.report.campaigns += 1
        pipeline = await self._post(
            "opportunities",
            "/v1/pipelines",
            {
                "name": f"Sales {self.run_id}",
                "stages": [{"name": n, "probability": p, "kind": k} for n, p, k in STAGES],
            },
        )
        stages = {s["name"]: s["id"] for s in pipeline["stages"]}
        return company_ids, pipeline["id"], stages

    async def customer(
        self, number: int, company_ids: list[str], pipeline_id: str, stages: dict[str, str]
    ) -> None:
        rnd = self.random
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        email = f"{first}.{last}.{self.run_id}.{number}@example.com".lower()
        person = await self._post(
            "contacts",
            "/v1/people",
            {
                "first_name": first,
                "last_name": last,
                "emails": [{"email": email}],
                "phones": [{"number": f"+48601{number % 1_000_000:06d}"}],
                "lifecycle_stage": rnd.choice(["lead", "prospect", "customer"]),
                "tags": rnd.sample(["vip", "newsletter", "partner", "trial"], k=rnd.randint(0, 2)),
                "preferences": {"preferred_channel": rnd.choice(["email", "phone", "sms"])},
            },
        )
        self.report.people += 1
        pid, company = person["id"], rnd.choice(company_ids)
        await self._post(
            "contacts",
            "/v1/roles",
            {"person_id": pid, "company_id": company, "title": rnd.choice(["CEO", "CTO", "Buyer"])},
        )
        await self._post(
            "contacts",
            f"/v1/people/{pid}/consents",
            {
                "channel": "email",
                "purpose": "marketing",
                "source": "seed",
                "status": rnd.choice(["granted", "granted", "withdrawn"]),
            },
        )
        await self._post(
            "contacts",
            f"/v1/people/{pid}/interactions",
            {
                "channel": rnd.choice(["phone", "email", "in_person"]),
                "direction": "inbound",
                "kind": "call",
                "summary": "Asked about prices",
            },
        )
        if rnd.random() < 0.3:
            await self._post(
                "opportunities",
                "/v1/leads",
                {
                    "first_name": first,
                    "last_name": last,
                    "email": email,
                    "source": "web",
                    "country": rnd.choice(COUNTRIES),
                    "utm_source": "seed",
                },
            )
            self.report.leads += 1
        if rnd.random() < 0.6:
            await self._deal(pid, company, pipeline_id, stages)
        if rnd.random() < 0.3:
            await self._post(
                "tickets",
                "/v1/tickets",
                {
                    "subject": rnd.choice(["Invoice question", "Delivery delayed", "Login fails"]),
                    "requester": {"person_id": pid},
                    "channel": rnd.choice(["email", "phone", "web"]),
                    "priority": rnd.choice(["low", "normal", "high"]),
                },
            )
            self.report.tickets += 1

    async def _company(self, number: int) -> str:
        rnd = self.random
        name = f"{rnd.choice(COMPANY)} {rnd.choice(SUFFIX)} {self.run_id}-{number}"
        company = await self._post(
            "contacts",
            "/v1/companies",
            {
                "name": name,
                "industry": rnd.choice(INDUSTRIES),
                "country": rnd.choice(COUNTRIES),
                "employee_count": rnd.choice([12, 80, 250, 1200]),
            },
        )
        self.report.companies += 1
        return str(company["id"])

    async def _deal(self, pid: str, company: str, pipeline: str, stages: dict[str, str]) -> None:
        rnd = self.random
        amount = Decimal(rnd.randrange(500, 50_000, 50))
        deal = await self._post(
            "opportunities",
            "/v1/opportunities",
            {
                "name": "Annual supply",
                "person_id": pid,
                "company_id": company,
                "pipeline_id": pipeline,
                "amount": str(amount),
                "currency": "PLN",
            },
        )
        won = rnd.random() < 0.6
        version = 1
        for stage in ("Proposal", "Won" if won else "Lost"):
            response = await self.clients["opportunities"].patch(
                f"/v1/opportunities/{deal['id']}",
                json={"stage_id": stages[stage]},
                headers={"If-Match": f'"{version}"'},
            )
            self._check(response)
            version = int(response.headers.get("ETag", f'"{version + 1}"').strip('"'))
        if not won:
            self.report.deals_lost += 1
            return
        self.report.deals_won += 1
        await self._order(pid, company, deal["id"], amount)

    async def _order(self, pid: str, company: str, deal: str, amount: Decimal) -> None:
        """What the ERP publishes once it has the order (see examples/erp_bridge)."""
        placed = datetime.now(UTC) - timedelta(days=self.random.randint(0, 400))
        order_id = str(uuid.uuid4())
        common = {"tenant_id": self.tenant, "contact_id": pid, "company_id": company}
        for event in (
            OrderPlaced(
                **common,
                order_id=order_id,
                opportunity_id=deal,
                placed_at=placed,
                total=amount,
                currency="PLN",
            ),
            InvoicePaid(
                **common,
                invoice_id=str(uuid.uuid4()),
                order_id=order_id,
                paid_at=placed + timedelta(days=14),
                amount=amount,
                currency="PLN",
            ),
        ):
            await self.publish(Envelope.wrap(event, source="/erp/seed"))
        self.report.orders += 1

    async def _post(self, service: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = await self.clients[service].post(path, json=body)
        self._check(response)
        result: dict[str, Any] = response.json()
        return result

    def _check(self, response: httpx.Response) -> None:
        if response.status_code >= 400:
            problem = response.text[:300]
            raise RuntimeError(
                f"{response.request.method} {response.request.url.path}: "
                f"{response.status_code} {problem}"
            )


def kafka_publisher(producer: Any) -> Publish:
    async def publish(event: Envelope) -> None:
        await producer.send_and_wait(
            event.topic, key=event.key.encode(), value=dumps(event.data), headers=event.headers()
        )

    return publish
