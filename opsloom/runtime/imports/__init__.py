"""Importing spreadsheets into a form: reading files (`sources`), cleaning cells (`cleaning`),
mapping columns and values (`mapping`, `links`), judging and storing rows through the record
write pipelines (`batches`), and an import's life as a background job (`service`)."""
