"""The coding step: ranked suggestions and their evidence in, a claim-ready coding out (ICD-10-CM/PCS Official Guidelines)."""
