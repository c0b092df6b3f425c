-- Reference data: the 16 MeSH top-level categories (the partitions), for joins and reports.
CREATE TABLE IF NOT EXISTS mesh_categories (letter VARCHAR PRIMARY KEY, name VARCHAR NOT NULL);
INSERT OR IGNORE INTO mesh_categories VALUES
    ('A', 'Anatomy'), ('B', 'Organisms'), ('C', 'Diseases'), ('D', 'Chemicals and Drugs'),
    ('E', 'Analytical, Diagnostic and Therapeutic Techniques, and Equipment'),
    ('F', 'Psychiatry and Psychology'), ('G', 'Phenomena and Processes'),
    ('H', 'Disciplines and Occupations'),
    ('I', 'Anthropology, Education, Sociology, and Social Phenomena'),
    ('J', 'Technology, Industry, and Agriculture'), ('K', 'Humanities'), ('L', 'Information Science'),
    ('M', 'Named Groups'), ('N', 'Health Care'), ('V', 'Publication Characteristics'),
    ('Z', 'Geographicals');
