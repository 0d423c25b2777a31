"""The report engine: a report document becomes one SQL statement, run with the viewer's row scope.

`plan` checks a document against its form and viewer, `measures` and
`buckets` are the registries of aggregates and date periods, `query` builds
the statement, `shared` turns shared filters into conditions, `run` executes
and shapes the answer (labels, totals, drill-down filters), `published`
reads published reports and dashboards, `process` answers flow analytics,
and `api` serves it all (runs, dashboards, CSV/XLSX exports, analytics).
"""
