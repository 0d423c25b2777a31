"""Importing spreadsheets into a form: reading files (`sources`), cleaning cells (`cleaning`),
mapping columns and values (`mapping`, `links`), judging and storing rows through the record
write pipelines (`batches`), what the user chooses (`settings`), an import as a resource
(`resource`), and its dry run and background job (`commit`)."""
