-- One line per category: what each stage holds (used by the demo's summary).
SELECT c.letter,
       c.name,
       (SELECT count(*) FROM mesh_tree t WHERE t.category = c.letter) AS mesh_nodes,
       (SELECT count(*) FROM raw_abstracts r WHERE r.category = c.letter) AS abstracts,
       (SELECT count(*) FROM candidate_qa q WHERE q.category = c.letter AND q.status = 'ok') AS questions,
       (SELECT count(*) FROM preference_pairs p WHERE p.category = c.letter) AS pairs,
       (SELECT count(*) FROM evaluated_qa e WHERE e.category = c.letter AND e.is_preferred AND e.answer_flag IS NULL) AS answers,
       (SELECT count(*) FROM evaluated_qa e WHERE e.category = c.letter AND e.is_preferred AND e.answer_flag IS NOT NULL) AS flagged,
       (SELECT count(*) FROM training_set s WHERE s.category = c.letter AND s.kind = 'sft') AS sft,
       (SELECT count(*) FROM training_set s WHERE s.category = c.letter AND s.kind = 'dpo') AS dpo,
       (SELECT count(*) FILTER (WHERE split = 'train') || '/' || count(*) FILTER (WHERE split = 'validation')
               || '/' || count(*) FILTER (WHERE split = 'test')
        FROM training_set s WHERE s.category = c.letter AND s.kind = 'sft') AS splits
FROM mesh_categories c
ORDER BY c.letter;
