// Create a company and a person, edit with optimistic concurrency, then read the person's
// omnichannel timeline from analytics.
//   CRM_URL=http://127.0.0.1:8080 CRM_TOKEN=$(uv run crm token --tenant acme) node ...
import { CrmClient, CrmProblem } from "../src/client";

declare const process: { env: Record<string, string | undefined> };

async function main(): Promise<void> {
  const env = process.env;
  const crm = new CrmClient(env.CRM_URL ?? "http://127.0.0.1:8080", env.CRM_TOKEN ?? "");
  const company = await crm.request("post", "/contacts/v1/companies", {
    body: { name: "Acme Sp. z o.o.", country: "PL" },
  });
  const person = await crm.request("post", "/contacts/v1/people", {
    idempotencyKey: "example-ada",
    body: {
      first_name: "Ada",
      last_name: "Lovelace",
      emails: [{ email: "ada@example.com", primary: true }],
      lifecycle_stage: "prospect",
    },
  });
  await crm.request("post", "/contacts/v1/roles", {
    body: { person_id: person.data.id, company_id: company.data.id, title: "CTO" },
  });
  try {
    await crm.request("patch", "/contacts/v1/people/{person_id}", {
      path: { person_id: person.data.id },
      ifMatch: person.etag ?? undefined,
      body: { job_title: "CTO" },
    });
  } catch (error) {
    if (error instanceof CrmProblem && error.status === 412) console.log("changed meanwhile");
    else throw error;
  }
  const timeline = await crm.request("get", "/analytics/v1/customers/{contact_id}/timeline", {
    path: { contact_id: person.data.id },
    query: { limit: 20 },
  });
  for (const entry of timeline.data.items) {
    console.log(entry.occurred_at, entry.type, entry.channel ?? "-", entry.summary ?? "");
  }
}

void main();
