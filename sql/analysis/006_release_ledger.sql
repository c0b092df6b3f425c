-- The PubMed release ledger: what each file changed.
CREATE OR REPLACE VIEW release_ledger AS
SELECT file_name, kind, articles_read, citations_upserted, citations_skipped_older,
       duplicates_in_file, deletions, quarantined, len(changed_pmids) AS changed_pmids,
       md5_verified, loaded_at
FROM pubmed_files
ORDER BY file_name;
