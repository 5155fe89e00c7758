"""Asset group names: the layer first (``raw``, ``marts``, ``reports``), then the domain.

Data flows one way, raw -> marts -> reports, and the UI's group list shows it. Jobs and tests select
by layer through these tuples, so a new group is added here once.
"""

RAW_COST = "raw_cost"
RAW_ORGANIZATION = "raw_organization"
RAW_INVENTORY = "raw_inventory"
RAW_SAVINGS = "raw_savings"
RAW_BUDGETS = "raw_budgets"
MARTS_TAGS = "marts_tags"
MARTS_ANOMALIES = "marts_anomalies"
MARTS_SAVINGS = "marts_savings"
MARTS_BUDGETS = "marts_budgets"
MARTS_FOCUS = "marts_focus"  # resource-grain spend from the FOCUS export (issue #18)
REPORTS = "reports"
HEALTH = "health"

RAW_GROUPS = (RAW_COST, RAW_ORGANIZATION, RAW_INVENTORY, RAW_SAVINGS, RAW_BUDGETS)
MART_GROUPS = (MARTS_TAGS, MARTS_ANOMALIES, MARTS_SAVINGS, MARTS_BUDGETS, MARTS_FOCUS)
