"""The project's own sample citations: fictitious PubMed records written by us for the demo and tests.

Every title, abstract, author, journal, PMID (90000001+) and DOI (the 10.5555 test prefix) here is
invented. Only the MeSH vocabulary is real: descriptor and qualifier names with their NLM UIs (MeSH
2024), tabulated at the end of this file so that the generator needs no NLM file to write PubMed XML.

Headings use NLM's display notation: "Descriptor/qualifier", with "*" after the part that is a major
topic ("Metformin*" = descriptor major, "Liver/metabolism*" = qualifier major).
Abstracts are either one string (unstructured) or a tuple of (label, text) sections; the label's
NLM category is derived in build_sample.py. Texts are XML fragments: inline <i>, <sup>, <sub> allowed,
"<" written as "&lt;".
"""

from __future__ import annotations

from dataclasses import dataclass, field

Sections = tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class SampleCitation:
    pmid: int
    title: str
    journal: str  # key of JOURNALS
    year: int | str  # an int is PubDate/Year; a str is written as MedlineDate ("2023 Jan-Feb")
    abstract: Sections | str | None
    mesh: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ("Journal Article",)
    status: str = "MEDLINE"
    version: int = 1
    authors: tuple[tuple[str, str], ...] = ()  # (last name, fore name); empty = drawn from the pool
    date_revised: tuple[int, int, int] | None = None  # None = derived from the PMID


@dataclass(frozen=True)
class Journal:
    title: str
    iso_abbreviation: str
    issn: str
    nlm_unique_id: str
    country: str


@dataclass(frozen=True)
class SampleBook:
    """A PubmedBookArticle (a chapter of an online book): no MeSH, no MedlineCitation."""

    pmid: int
    book_title: str
    chapter_title: str
    publisher: str
    publisher_location: str
    year: int
    accession: str
    abstract: str
    authors: tuple[tuple[str, str], ...] = field(default=())


# Fictitious journals (ISSNs carry valid check digits; NLM IDs are invented).
JOURNALS: dict[str, Journal] = {
    "metab": Journal(
        "Journal of Clinical Metabolism and Endocrine Practice",
        "J Clin Metab Endocr Pract",
        "2950-1016",
        "900000101",
        "United States",
    ),
    "micro": Journal(
        "Microbial Ecology in Health and Disease Reports",
        "Microb Ecol Health Dis Rep",
        "2950-1024",
        "900000102",
        "England",
    ),
    "neuro": Journal(
        "Annals of Cognitive Neurology",
        "Ann Cogn Neurol",
        "2950-1032",
        "900000103",
        "Netherlands",
    ),
    "psych": Journal(
        "Journal of Applied Mental Health Research",
        "J Appl Ment Health Res",
        "2950-1040",
        "900000104",
        "United States",
    ),
    "onc": Journal(
        "Gastrointestinal Oncology and Prevention",
        "Gastrointest Oncol Prev",
        "2950-1059",
        "900000105",
        "Germany",
    ),
    "trop": Journal(
        "Tropical Medicine and Vector Biology",
        "Trop Med Vector Biol",
        "2950-1067",
        "900000106",
        "Kenya",
    ),
    "nurs": Journal(
        "International Journal of Nursing Workforce Studies",
        "Int J Nurs Workforce Stud",
        "2950-1075",
        "900000107",
        "Canada",
    ),
    "edu": Journal(
        "Medical Education Practice and Research",
        "Med Educ Pract Res",
        "2950-1083",
        "900000108",
        "England",
    ),
    "food": Journal(
        "Food Safety and Agricultural Health",
        "Food Saf Agric Health",
        "2950-1091",
        "900000109",
        "Italy",
    ),
    "ethics": Journal(
        "Medical Humanities and Bioethics Review",
        "Med Humanit Bioeth Rev",
        "2950-1105",
        "900000110",
        "United States",
    ),
    "digital": Journal(
        "Digital Health and Clinical Informatics",
        "Digit Health Clin Inform",
        "2950-1113",
        "900000111",
        "Switzerland",
    ),
    "genet": Journal(
        "Genome Medicine and Therapeutic Editing",
        "Genome Med Ther Edit",
        "2950-1121",
        "900000112",
        "United States",
    ),
    "anat": Journal(
        "Clinical Anatomy and Developmental Biology",
        "Clin Anat Dev Biol",
        "2950-113X",
        "900000113",
        "France",
    ),
}

# Fictitious authors, drawn deterministically by PMID when a citation names none.
AUTHOR_POOL: tuple[tuple[str, str], ...] = (
    ("Adeyemi", "Tolulope"),
    ("Bergstrom", "Anna K"),
    ("Castillo", "Mateo"),
    ("Dubois", "Claire"),
    ("Eriksen", "Lars"),
    ("Fujimoto", "Haruka"),
    ("Gallagher", "Sean P"),
    ("Hussain", "Amina"),
    ("Ivanova", "Daria"),
    ("Jensen", "Mette"),
    ("Kowalski", "Piotr"),
    ("Lindqvist", "Erik"),
    ("Mensah", "Kwame"),
    ("Nakamura", "Ken"),
    ("Okafor", "Chidinma"),
    ("Patel", "Rohan"),
    ("Quinn", "Fiona"),
    ("Rossi", "Giulia"),
    ("Schneider", "Jonas"),
    ("Tanaka", "Yui"),
    ("Usman", "Bilal"),
    ("Verhoeven", "Sanne"),
    ("Wanjiru", "Grace"),
    ("Xu", "Lei"),
    ("Yilmaz", "Emre"),
    ("Zhang", "Wei"),
)

# --------------------------------------------------------------------------------------------
# Baseline file 1 (pubmed26n0001): metabolism, microbiome, resistance, dementia, mood, screening,
# malaria, nursing, education.
# --------------------------------------------------------------------------------------------
BASELINE_1: tuple[SampleCitation, ...] = (
    # Cluster: metformin and type 2 diabetes
    SampleCitation(
        pmid=90000001,
        title="Metformin reduces hepatic glucose output in adults with newly diagnosed type 2 diabetes.",
        journal="metab",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Metformin is the first-line drug for type 2 diabetes, yet the relative contribution of reduced hepatic glucose output and improved peripheral glucose uptake to its effect in newly diagnosed patients remains debated.",
            ),
            (
                "OBJECTIVE",
                "To determine whether metformin lowers endogenous glucose production in adults with newly diagnosed type 2 diabetes before any change in body weight.",
            ),
            (
                "METHODS",
                "Forty-two drug-naive adults were randomly assigned to metformin 2000 mg daily or placebo for 12 weeks. Endogenous glucose production was measured with a primed continuous infusion of [6,6-<sup>2</sup>H<sub>2</sub>]glucose under fasting conditions and during a two-step hyperinsulinaemic clamp.",
            ),
            (
                "RESULTS",
                "Fasting endogenous glucose production fell by 24% with metformin and by 3% with placebo (p &lt; 0.001), while insulin-stimulated peripheral glucose disposal did not differ between groups. Fasting plasma glucose decreased by 1.6 mmol/L with metformin. Body weight was unchanged in both arms.",
            ),
            (
                "CONCLUSIONS",
                "Metformin lowers fasting glycaemia in newly diagnosed type 2 diabetes mainly by suppressing hepatic glucose output, independently of weight loss.",
            ),
        ),
        mesh=(
            "Adult",
            "Blood Glucose/analysis",
            "Diabetes Mellitus, Type 2/drug therapy*",
            "Female",
            "Gluconeogenesis/drug effects*",
            "Humans",
            "Hypoglycemic Agents/therapeutic use",
            "Liver/metabolism",
            "Male",
            "Metformin/therapeutic use*",
            "Middle Aged",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
        keywords=("endogenous glucose production", "metformin", "stable isotopes"),
    ),
    SampleCitation(
        pmid=90000002,
        title="Metformin activates AMP-activated protein kinase in primary human hepatocytes at clinically relevant concentrations.",
        journal="metab",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Activation of AMP-activated protein kinase (AMPK) has been proposed to mediate the hepatic actions of metformin, but many experiments used concentrations far above those reached in the portal vein of treated patients.",
            ),
            (
                "OBJECTIVE",
                "To determine whether metformin activates AMPK in primary human hepatocytes at concentrations between 10 and 80 μM.",
            ),
            (
                "METHODS",
                "Hepatocytes isolated from liver resection margins of 11 donors were exposed to metformin for 1 to 24 hours. We measured phosphorylation of AMPK and acetyl-CoA carboxylase by immunoblotting, cellular adenine nucleotides by liquid chromatography, and glucose production from lactate and pyruvate.",
            ),
            (
                "RESULTS",
                "Metformin at 50 μM increased AMPK phosphorylation 1.8-fold after 8 hours, accompanied by a modest rise in the AMP:ATP ratio. Glucose production fell by 31%. An AMPK inhibitor abolished the phosphorylation of acetyl-CoA carboxylase but only partly reversed the suppression of glucose production.",
            ),
            (
                "CONCLUSIONS",
                "Clinically relevant concentrations of metformin activate AMPK in human hepatocytes, but AMPK-independent mechanisms also contribute to the suppression of hepatic glucose production.",
            ),
        ),
        mesh=(
            "AMP-Activated Protein Kinases/metabolism*",
            "Cells, Cultured",
            "Gluconeogenesis/drug effects",
            "Hepatocytes/drug effects*",
            "Humans",
            "Hypoglycemic Agents/pharmacology",
            "Metformin/pharmacology*",
        ),
    ),
    SampleCitation(
        pmid=90000003,
        title="Long-term metformin use is associated with vitamin B12 deficiency in older adults with type 2 diabetes.",
        journal="metab",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Metformin reduces the absorption of vitamin B12 in the terminal ileum, and older adults are already at risk of deficiency.",
            ),
            (
                "OBJECTIVE",
                "To assess whether the duration and dose of metformin are associated with vitamin B12 deficiency in adults aged 65 years or older with type 2 diabetes.",
            ),
            (
                "METHODS",
                "In this cross-sectional study of 612 patients attending four diabetes clinics, serum vitamin B12 and methylmalonic acid were measured. Deficiency was defined as vitamin B12 below 150 pmol/L or a level between 150 and 220 pmol/L with raised methylmalonic acid. Associations were estimated with logistic regression adjusted for age, sex, renal function and proton pump inhibitor use.",
            ),
            (
                "RESULTS",
                "Deficiency was present in 22% of metformin users and 8% of non-users. Each additional five years of metformin treatment increased the odds of deficiency (adjusted odds ratio 1.5, 95% confidence interval 1.2 to 1.9), as did daily doses of 2000 mg or more. Peripheral neuropathy scores were higher in deficient patients.",
            ),
            (
                "CONCLUSIONS",
                "Vitamin B12 deficiency is common in older adults taking metformin for many years, and periodic measurement of vitamin B12 is warranted in this group.",
            ),
        ),
        mesh=(
            "Aged",
            "Cross-Sectional Studies",
            "Diabetes Mellitus, Type 2/drug therapy",
            "Female",
            "Humans",
            "Male",
            "Metformin/adverse effects*",
            "Vitamin B 12 Deficiency/chemically induced*",
        ),
        date_revised=(2022, 9, 14),
    ),
    SampleCitation(
        pmid=90000004,
        title="Lifestyle intervention is more effective than metformin in preventing type 2 diabetes in adults with prediabetes.",
        journal="metab",
        year="2023 Jan-Feb",
        abstract=(
            (
                "BACKGROUND",
                "Both intensive lifestyle programmes and metformin delay progression from prediabetes to type 2 diabetes, but few trials have compared them outside specialist research centres.",
            ),
            (
                "OBJECTIVE",
                "To compare the incidence of type 2 diabetes after a community lifestyle intervention, metformin, or usual care in adults with prediabetes.",
            ),
            (
                "METHODS",
                "We randomly assigned 1,140 adults with impaired fasting glucose or raised glycated haemoglobin to a 16-session group programme targeting 7% weight loss and 150 minutes of weekly physical activity, to metformin 850 mg twice daily, or to usual care, and followed them for three years.",
            ),
            (
                "RESULTS",
                "The cumulative incidence of diabetes was 14% with lifestyle intervention, 20% with metformin and 27% with usual care. Compared with usual care, the lifestyle intervention reduced incidence by 52% and metformin by 29%. Weight loss at one year explained most of the lifestyle effect. Gastrointestinal symptoms were more frequent with metformin.",
            ),
            (
                "CONCLUSIONS",
                "A community lifestyle programme prevents more cases of type 2 diabetes than metformin in adults with prediabetes and should be offered first.",
            ),
        ),
        mesh=(
            "Adult",
            "Diabetes Mellitus, Type 2/prevention & control*",
            "Diet, Reducing",
            "Exercise*",
            "Female",
            "Humans",
            "Life Style*",
            "Male",
            "Metformin/therapeutic use",
            "Middle Aged",
            "Prediabetic State/therapy*",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    # Cluster: the gut microbiome
    SampleCitation(
        pmid=90000005,
        title="Gut microbiota of infants born by caesarean section lacks <i>Bifidobacterium</i> during the first months of life.",
        journal="micro",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "The mode of delivery shapes the first microbial colonisers of the infant gut, and caesarean birth has been linked to later immune and metabolic disease.",
            ),
            (
                "OBJECTIVE",
                "To determine whether caesarean delivery alters the abundance of <i>Bifidobacterium</i> species in the infant gut during the first six months of life.",
            ),
            (
                "METHODS",
                "Stool samples were collected at one week, one month and six months from 178 term infants, 61 of whom were born by caesarean section. Bacterial composition was determined by 16S rRNA gene sequencing and species-specific quantitative PCR, with adjustment for feeding and antibiotic exposure.",
            ),
            (
                "RESULTS",
                "At one week, <i>Bifidobacterium</i> accounted for a median of 4% of reads after caesarean birth and 38% after vaginal birth. Caesarean-born infants carried more hospital-associated <i>Enterococcus</i> and <i>Klebsiella</i>. Differences narrowed by six months but remained significant in formula-fed infants.",
            ),
            (
                "CONCLUSIONS",
                "Caesarean delivery delays colonisation of the infant gut by <i>Bifidobacterium</i>, and breastfeeding attenuates this difference.",
            ),
        ),
        mesh=(
            "Bifidobacterium/isolation & purification*",
            "Cesarean Section*",
            "Feces/microbiology",
            "Female",
            "Gastrointestinal Microbiome*",
            "Humans",
            "Infant, Newborn",
            "Male",
            "Pregnancy",
        ),
        keywords=("16S rRNA", "caesarean section", "infant microbiome"),
    ),
    SampleCitation(
        pmid=90000006,
        title="Antibiotic exposure in early childhood reduces gut microbial diversity for at least one year.",
        journal="micro",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Young children receive more antibiotic courses than any other age group, and the duration of the resulting disturbance of the gut microbiota is uncertain.",
            ),
            (
                "OBJECTIVE",
                "To measure how long gut microbial diversity remains reduced after a course of oral antibiotics in children aged one to four years.",
            ),
            (
                "METHODS",
                "In a prospective cohort of 240 children, stool samples were collected every three months for two years and sequenced by shotgun metagenomics. Antibiotic prescriptions were obtained from pharmacy records. Mixed models related Shannon diversity and resistance gene load to the number and class of antibiotic courses.",
            ),
            (
                "RESULTS",
                "A single course of a macrolide reduced Shannon diversity by 18% at three months, and diversity had not returned to baseline twelve months later. Amoxicillin had smaller and shorter effects. Macrolide resistance genes remained enriched for more than a year after exposure.",
            ),
            (
                "CONCLUSIONS",
                "Antibiotics, especially macrolides, cause a prolonged loss of gut microbial diversity in young children and enrich resistance genes, which supports restrictive prescribing.",
            ),
        ),
        mesh=(
            "Anti-Bacterial Agents/adverse effects*",
            "Child, Preschool",
            "Feces/microbiology",
            "Female",
            "Gastrointestinal Microbiome/drug effects*",
            "Humans",
            "Infant",
            "Male",
            "Prospective Studies",
        ),
    ),
    SampleCitation(
        pmid=90000007,
        title="Faecal microbiota transplantation prevents recurrence of <i>Clostridioides difficile</i> infection better than vancomycin.",
        journal="micro",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Recurrent <i>Clostridioides difficile</i> infection follows the loss of colonisation resistance provided by a diverse gut microbiota, and each recurrence raises the risk of the next.",
            ),
            (
                "OBJECTIVE",
                "To compare faecal microbiota transplantation with a tapered course of vancomycin for the prevention of further recurrence.",
            ),
            (
                "METHODS",
                "Adults with at least two recurrences were randomly assigned to a ten-day vancomycin course followed by a single colonoscopic faecal microbiota transplant from screened donors, or to a six-week tapered vancomycin regimen. The primary outcome was resolution of diarrhoea without recurrence at eight weeks.",
            ),
            (
                "RESULTS",
                "Among 96 patients, 81% of those who received transplantation and 37% of those given tapered vancomycin remained free of recurrence at eight weeks. Microbial diversity in recipients rose to donor levels within two weeks. Adverse events were mild and transient.",
            ),
            (
                "CONCLUSIONS",
                "Faecal microbiota transplantation restores microbial diversity and is more effective than tapered vancomycin in preventing recurrent <i>Clostridioides difficile</i> infection.",
            ),
        ),
        mesh=(
            "Adult",
            "Aged",
            "Clostridioides difficile*",
            "Clostridium Infections/therapy*",
            "Fecal Microbiota Transplantation*",
            "Humans",
            "Recurrence",
            "Vancomycin/therapeutic use",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000008,
        title="Dietary fibre supplementation increases short-chain fatty acid production by colonic bacteria.",
        journal="micro",
        year=2019,
        abstract="Short-chain fatty acids produced by bacterial fermentation of dietary fibre nourish colonocytes and regulate inflammation, but the dose of fibre needed to change their production in adults eating a Western diet is not known. We aimed to determine whether adding 20 g per day of mixed fermentable fibre changes faecal short-chain fatty acid concentrations and the composition of colonic bacteria. Sixty healthy adults were randomly allocated to fibre or maltodextrin for eight weeks. Faecal acetate, propionate and butyrate were measured by gas chromatography and the microbiota by 16S rRNA sequencing. Butyrate concentrations rose by 34% with fibre and were unchanged with maltodextrin, and butyrate-producing genera such as <i>Faecalibacterium</i> and <i>Roseburia</i> increased in relative abundance. Stool frequency increased slightly, and bloating was reported by one in five participants during the first week only. Fibre supplementation at a dose achievable through diet increases butyrate production by colonic bacteria in healthy adults.",
        mesh=(
            "Adult",
            "Colon/microbiology*",
            "Dietary Fiber/administration & dosage*",
            "Fatty Acids, Volatile/metabolism*",
            "Gastrointestinal Microbiome",
            "Humans",
        ),
    ),
    # Cluster: antibiotic resistance
    SampleCitation(
        pmid=90000009,
        title="Nasal carriage of methicillin-resistant <i>Staphylococcus aureus</i> is common among hospital healthcare workers in surgical wards.",
        journal="micro",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Healthcare workers who carry methicillin-resistant <i>Staphylococcus aureus</i> (MRSA) may transmit it to patients, yet screening of staff is not routine in most hospitals.",
            ),
            (
                "OBJECTIVE",
                "To estimate the prevalence of nasal MRSA carriage among healthcare workers and identify occupational factors associated with carriage.",
            ),
            (
                "METHODS",
                "Nasal swabs were obtained from 804 nurses, physicians and support staff in a tertiary hospital and cultured on chromogenic agar. Isolates were typed by <i>spa</i> sequencing and compared with isolates from patients on the same wards.",
            ),
            (
                "RESULTS",
                "MRSA was carried by 6.2% of staff overall and by 11.4% of staff on surgical wards. Carriage was associated with more than ten years of clinical work and with direct wound care. Three <i>spa</i> types were shared between staff and patients on the same ward.",
            ),
            (
                "CONCLUSIONS",
                "MRSA carriage is frequent among staff on surgical wards and shared strain types suggest transmission, so targeted screening and decolonisation of staff should be considered.",
            ),
        ),
        mesh=(
            "Carrier State/epidemiology",
            "Cross-Sectional Studies",
            "Humans",
            "Methicillin-Resistant Staphylococcus aureus/isolation & purification*",
            "Nose/microbiology",
            "Personnel, Hospital*",
            "Prevalence",
            "Staphylococcal Infections/epidemiology*",
        ),
    ),
    SampleCitation(
        pmid=90000010,
        title="Vancomycin trough concentrations above 15 mg/L increase the risk of acute kidney injury.",
        journal="micro",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Guidelines have recommended high vancomycin trough targets for serious staphylococcal infections, but such targets may harm the kidney.",
            ),
            (
                "OBJECTIVE",
                "To determine whether vancomycin trough concentrations above 15 mg/L are associated with acute kidney injury in hospitalised adults.",
            ),
            (
                "METHODS",
                "We reviewed 1,320 courses of intravenous vancomycin given for at least 72 hours in two hospitals. Acute kidney injury was defined by KDIGO creatinine criteria. Cox models adjusted for illness severity, concurrent nephrotoxins and baseline renal function.",
            ),
            (
                "RESULTS",
                "Acute kidney injury occurred in 19% of courses with troughs above 15 mg/L and in 8% of courses with lower troughs (adjusted hazard ratio 2.1). The risk rose further with concurrent piperacillin-tazobactam. Most injuries resolved after discontinuation.",
            ),
            (
                "CONCLUSIONS",
                "High vancomycin trough concentrations double the risk of acute kidney injury, supporting dosing guided by the area under the concentration curve instead of trough targets.",
            ),
        ),
        mesh=(
            "Acute Kidney Injury/chemically induced*",
            "Adult",
            "Anti-Bacterial Agents/adverse effects",
            "Drug Monitoring",
            "Humans",
            "Retrospective Studies",
            "Vancomycin/adverse effects*",
        ),
    ),
    SampleCitation(
        pmid=90000011,
        title="Carbapenemase genes spread between Enterobacterales through plasmids in hospital wastewater.",
        journal="micro",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Hospital wastewater receives antibiotics, disinfectants and resistant bacteria, and may act as a reservoir where resistance genes move between species.",
            ),
            (
                "OBJECTIVE",
                "To determine whether carbapenemase genes are transferred horizontally between Enterobacterales in hospital sink drains and sewage.",
            ),
            (
                "METHODS",
                "Over eighteen months we sampled sink drains, ward effluent and the hospital sewer monthly. Carbapenem-resistant isolates were sequenced with short and long reads to reconstruct plasmids, and conjugation was tested <i>in vitro</i>.",
            ),
            (
                "RESULTS",
                "We recovered 214 carbapenemase-producing isolates from nine species. The <i>bla</i><sub>KPC-2</sub> gene was carried on a near-identical 48 kb plasmid in <i>Klebsiella pneumoniae</i>, <i>Enterobacter cloacae</i> and <i>Citrobacter freundii</i>, and the same plasmid was found in four patient isolates. The plasmid transferred by conjugation at high frequency.",
            ),
            (
                "CONCLUSIONS",
                "Hospital wastewater is a site of horizontal transfer of carbapenemase plasmids between species, and drain hygiene should be part of infection control.",
            ),
        ),
        mesh=(
            "Bacterial Proteins/genetics",
            "Drug Resistance, Bacterial/genetics*",
            "Enterobacteriaceae/genetics*",
            "Gene Transfer, Horizontal*",
            "Humans",
            "Plasmids/genetics",
            "Wastewater/microbiology",
            "beta-Lactamases/genetics*",
        ),
        keywords=("carbapenemase", "plasmid", "wastewater"),
    ),
    SampleCitation(
        pmid=90000012,
        title="An antimicrobial stewardship programme reduces the use of broad-spectrum antibiotics in community hospitals.",
        journal="micro",
        year=2019,
        abstract=(
            (
                "BACKGROUND",
                "Stewardship programmes are established in teaching hospitals, but small community hospitals often lack infectious disease specialists.",
            ),
            (
                "OBJECTIVE",
                "To evaluate whether a remotely supported stewardship programme reduces broad-spectrum antibiotic use in community hospitals.",
            ),
            (
                "METHODS",
                "Six community hospitals introduced weekly prospective audit and feedback by a remote pharmacist and infectious disease physician. Antibiotic days of therapy per 1,000 patient-days were compared for 18 months before and after introduction by interrupted time-series analysis.",
            ),
            (
                "RESULTS",
                "Use of broad-spectrum agents fell by 22% after introduction, driven by fewer days of piperacillin-tazobactam and carbapenems. Rates of <i>Clostridioides difficile</i> infection declined, and mortality and readmissions were unchanged. Prescribers accepted 84% of the recommendations, most often to stop treatment or to switch from intravenous to oral therapy.",
            ),
            (
                "CONCLUSIONS",
                "Remote stewardship support safely reduces broad-spectrum antibiotic use in community hospitals without on-site specialists.",
            ),
        ),
        mesh=(
            "Anti-Bacterial Agents/therapeutic use*",
            "Antimicrobial Stewardship/organization & administration*",
            "Hospitals, Community*",
            "Humans",
            "Interrupted Time Series Analysis",
        ),
    ),
    # Cluster: Alzheimer disease and cognitive decline
    SampleCitation(
        pmid=90000013,
        title="Plasma phosphorylated tau 217 distinguishes Alzheimer disease from other dementias.",
        journal="neuro",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Cerebrospinal fluid analysis and amyloid imaging are accurate for diagnosing Alzheimer disease but invasive or costly, limiting their use in memory clinics.",
            ),
            (
                "OBJECTIVE",
                "To determine whether plasma tau phosphorylated at threonine 217 (p-tau217) discriminates Alzheimer disease from other neurodegenerative dementias.",
            ),
            (
                "METHODS",
                "Plasma p-tau217 was measured with an immunoassay in 512 patients from three memory clinics with diagnoses established by amyloid positron emission tomography or cerebrospinal fluid biomarkers. Diagnostic accuracy was assessed by the area under the receiver operating characteristic curve.",
            ),
            (
                "RESULTS",
                "Plasma p-tau217 distinguished Alzheimer disease from frontotemporal dementia, dementia with Lewy bodies and vascular dementia with an area under the curve of 0.93. Accuracy was similar to that of cerebrospinal fluid p-tau181 and higher than that of plasma neurofilament light.",
            ),
            (
                "CONCLUSIONS",
                "Plasma p-tau217 is an accurate blood biomarker of Alzheimer disease and could reduce the need for invasive testing in memory clinics.",
            ),
        ),
        mesh=(
            "Aged",
            "Alzheimer Disease/diagnosis*",
            "Biomarkers/blood*",
            "Dementia/diagnosis",
            "Diagnosis, Differential",
            "Female",
            "Humans",
            "Male",
            "tau Proteins/blood*",
        ),
    ),
    SampleCitation(
        pmid=90000014,
        title="Hippocampal atrophy rate on MRI predicts progression from mild cognitive impairment to dementia.",
        journal="neuro",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Hippocampal volume at a single visit predicts conversion from mild cognitive impairment to dementia only moderately well.",
            ),
            (
                "OBJECTIVE",
                "To assess whether the annual rate of hippocampal atrophy measured on serial MRI predicts progression to dementia better than baseline volume.",
            ),
            (
                "METHODS",
                "Adults with mild cognitive impairment underwent 3 T MRI at enrolment and after 12 months, and were followed clinically for four years. Hippocampal volumes were obtained by automated segmentation.",
            ),
            (
                "RESULTS",
                "Of 287 participants, 96 progressed to dementia. An annual hippocampal atrophy rate above 3% predicted progression with a hazard ratio of 3.4, and adding the atrophy rate to baseline volume and age improved discrimination from 0.71 to 0.80.",
            ),
            (
                "CONCLUSIONS",
                "The rate of hippocampal atrophy over one year is a stronger predictor of dementia than a single measurement of hippocampal volume and may help select patients for trials.",
            ),
        ),
        mesh=(
            "Aged",
            "Atrophy",
            "Cognitive Dysfunction/diagnostic imaging*",
            "Dementia/diagnostic imaging",
            "Disease Progression",
            "Hippocampus/pathology*",
            "Humans",
            "Magnetic Resonance Imaging*",
        ),
    ),
    SampleCitation(
        pmid=90000015,
        title="Aerobic exercise improves executive function in older adults with mild cognitive impairment.",
        journal="neuro",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Physical activity is associated with a lower risk of dementia, but trials of exercise in people who already have cognitive impairment have given mixed results.",
            ),
            (
                "OBJECTIVE",
                "To determine whether six months of supervised aerobic exercise improves executive function in older adults with mild cognitive impairment.",
            ),
            (
                "METHODS",
                "A total of 150 adults aged 65 to 85 years with mild cognitive impairment were randomly assigned to supervised moderate-intensity walking or cycling three times a week or to stretching and toning. Executive function was assessed with a composite of the Trail Making Test, digit span and verbal fluency.",
            ),
            (
                "RESULTS",
                "After six months, the executive function composite improved by 0.32 standard deviations more with aerobic exercise than with stretching. Cardiorespiratory fitness rose in the aerobic group. Memory scores did not differ between groups.",
            ),
            (
                "CONCLUSIONS",
                "Aerobic exercise produces a modest improvement in executive function but not memory in older adults with mild cognitive impairment.",
            ),
        ),
        mesh=(
            "Aged",
            "Aged, 80 and over",
            "Cognitive Dysfunction/therapy*",
            "Executive Function*",
            "Exercise*",
            "Humans",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000016,
        title="Amyloid-β oligomers impair long-term potentiation in mouse hippocampal slices through TNF-α signalling.",
        journal="neuro",
        year=2019,
        abstract=(
            (
                "BACKGROUND",
                "Soluble amyloid-β (Aβ) oligomers are thought to cause synaptic failure early in Alzheimer disease, and inflammatory cytokines released by microglia may contribute.",
            ),
            (
                "OBJECTIVE",
                "To determine whether tumour necrosis factor α (TNF-α) mediates the impairment of hippocampal long-term potentiation caused by Aβ oligomers.",
            ),
            (
                "METHODS",
                "Acute hippocampal slices from wild-type and TNF receptor 1 knockout mice were exposed to synthetic Aβ<sub>1-42</sub> oligomers (200 nM). Field excitatory postsynaptic potentials were recorded in CA1 after theta-burst stimulation of the Schaffer collaterals, at 32 °C.",
            ),
            (
                "RESULTS",
                "Aβ oligomers reduced potentiation from 156% to 112% of baseline in wild-type slices but had no effect in slices lacking TNF receptor 1. A neutralising antibody against TNF-α and depletion of microglia both prevented the impairment. Basal synaptic transmission was unchanged.",
            ),
            (
                "CONCLUSIONS",
                "TNF-α signalling through TNF receptor 1 is required for Aβ oligomers to impair synaptic plasticity in the hippocampus, which identifies it as a target for early intervention.",
            ),
        ),
        mesh=(
            "Amyloid beta-Peptides/toxicity*",
            "Animals",
            "Hippocampus/drug effects",
            "Long-Term Potentiation/drug effects*",
            "Mice",
            "Mice, Knockout",
            "Neuronal Plasticity/drug effects",
            "Synapses/drug effects",
            "Tumor Necrosis Factor-alpha/metabolism*",
        ),
        authors=(
            ("Sørensen", "Åse"),
            ("Núñez", "José Ángel"),
            ("Müller", "Jürgen"),
            ("Ó Briain", "Séamus"),
            ("Dvořák", "Tomáš"),
        ),
    ),
    # Cluster: depression and psychological therapy
    SampleCitation(
        pmid=90000017,
        title="Internet-delivered cognitive behavioural therapy reduces depressive symptoms in university students.",
        journal="psych",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Depressive symptoms are common among university students, but campus counselling services have long waiting lists.",
            ),
            (
                "OBJECTIVE",
                "To determine whether a guided, internet-delivered cognitive behavioural therapy programme reduces depressive symptoms in students compared with a waiting list.",
            ),
            (
                "METHODS",
                "Students from three universities with Patient Health Questionnaire-9 (PHQ-9) scores of 10 or more were randomly assigned to an eight-module online programme with weekly written feedback from a trained coach, or to a waiting list. The primary outcome was the PHQ-9 score at ten weeks.",
            ),
            (
                "RESULTS",
                "Of 486 students randomised, 79% completed the ten-week assessment. The PHQ-9 score fell by 6.1 points in the intervention group and by 2.9 points on the waiting list (between-group effect size 0.61). Benefits persisted at six months. Students who completed at least four modules improved most.",
            ),
            (
                "CONCLUSIONS",
                "Guided internet-delivered cognitive behavioural therapy is an effective and scalable treatment for depressive symptoms in university students.",
            ),
        ),
        mesh=(
            "Adolescent",
            "Cognitive Behavioral Therapy/methods*",
            "Depression/therapy*",
            "Female",
            "Humans",
            "Internet-Based Intervention*",
            "Male",
            "Students/psychology*",
            "Universities",
            "Young Adult",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
        keywords=("depression", "digital mental health", "students"),
    ),
    SampleCitation(
        pmid=90000018,
        title="Discontinuation of maintenance antidepressants doubles the risk of relapse in major depressive disorder.",
        journal="psych",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Many patients who have recovered from major depression wish to stop antidepressants, but the risk of relapse after discontinuation in primary care is uncertain.",
            ),
            (
                "OBJECTIVE",
                "To assess whether tapering and stopping maintenance antidepressants increases the risk of relapse compared with continuing them.",
            ),
            (
                "METHODS",
                "Primary care patients who had taken an antidepressant for at least nine months after recovery were randomly assigned to continue treatment or to taper to placebo over two months. Relapse was assessed for one year with structured clinical interviews.",
            ),
            (
                "RESULTS",
                "Relapse occurred in 56% of the 238 patients who discontinued and in 28% of the 240 who continued treatment (hazard ratio 2.3). Withdrawal symptoms were common in the first three months after tapering.",
            ),
            (
                "CONCLUSIONS",
                "Stopping maintenance antidepressants roughly doubles the risk of relapse within a year, and patients should be informed of this risk when considering discontinuation.",
            ),
        ),
        mesh=(
            "Adult",
            "Antidepressive Agents/administration & dosage*",
            "Depressive Disorder, Major/drug therapy*",
            "Humans",
            "Primary Health Care",
            "Recurrence",
            "Withholding Treatment",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000019,
        title="Loneliness predicts depressive symptoms in community-dwelling older adults.",
        journal="psych",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Loneliness and depression often occur together in later life, and the direction of their association is debated.",
            ),
            (
                "OBJECTIVE",
                "To examine whether loneliness predicts later depressive symptoms, or depressive symptoms predict later loneliness, in older adults living in the community.",
            ),
            (
                "METHODS",
                "We analysed three waves, four years apart, of a population cohort of 3,910 adults aged 65 years or older. Loneliness was measured with the three-item UCLA scale and depressive symptoms with the Centre for Epidemiologic Studies Depression scale. Cross-lagged panel models were adjusted for health, income and living arrangements.",
            ),
            (
                "RESULTS",
                "Loneliness at one wave predicted an increase in depressive symptoms at the next wave, and the reverse path was about half as strong. The association was independent of living alone and of the number of social contacts.",
            ),
            (
                "CONCLUSIONS",
                "Loneliness is a risk factor for depressive symptoms in older adults, and interventions that address loneliness may help prevent depression in later life.",
            ),
        ),
        mesh=(
            "Aged",
            "Cohort Studies",
            "Depression/epidemiology*",
            "Humans",
            "Independent Living",
            "Loneliness/psychology*",
        ),
    ),
    # Cluster: colorectal cancer screening
    SampleCitation(
        pmid=90000020,
        title="Faecal immunochemical testing increases colorectal cancer screening uptake compared with an invitation to colonoscopy.",
        journal="onc",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Colonoscopy and the faecal immunochemical test (FIT) are both used for colorectal cancer screening, but participation may depend on which test is offered.",
            ),
            (
                "OBJECTIVE",
                "To compare screening participation and detection of advanced neoplasia between invitations to FIT and to primary colonoscopy.",
            ),
            (
                "METHODS",
                "Adults aged 50 to 74 years in a regional screening programme were randomly invited to return a mailed FIT or to book a screening colonoscopy. Participants with a positive FIT were referred for colonoscopy.",
            ),
            (
                "RESULTS",
                "Of 12,400 invited adults, 58% returned the FIT and 24% underwent primary colonoscopy. Advanced neoplasia was detected in 1.9% of those invited to FIT and 2.1% of those invited to colonoscopy, a difference that was not significant. Participation with FIT was higher in every socioeconomic group.",
            ),
            (
                "CONCLUSIONS",
                "Invitation to FIT more than doubles screening participation and detects a similar proportion of advanced neoplasia per invited person as invitation to colonoscopy.",
            ),
        ),
        mesh=(
            "Aged",
            "Colonoscopy",
            "Colorectal Neoplasms/diagnosis*",
            "Early Detection of Cancer/methods*",
            "Humans",
            "Middle Aged",
            "Occult Blood*",
            "Patient Acceptance of Health Care*",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000021,
        title="Computer-aided detection increases the adenoma detection rate during screening colonoscopy.",
        journal="onc",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Adenomas missed at colonoscopy contribute to interval colorectal cancers, and the adenoma detection rate varies widely between endoscopists.",
            ),
            (
                "OBJECTIVE",
                "To determine whether a real-time computer-aided detection system based on deep learning increases the adenoma detection rate in screening colonoscopy.",
            ),
            (
                "METHODS",
                "In four endoscopy units, 1,240 screening colonoscopies were randomly assigned to be performed with or without the detection system, which marks suspected polyps on the video monitor. All resected lesions were examined histologically.",
            ),
            (
                "RESULTS",
                "The adenoma detection rate was 38.6% with computer-aided detection and 29.7% without it. The gain came mostly from diminutive adenomas under 5 mm, and the number of advanced adenomas did not differ. Withdrawal time increased by 30 seconds.",
            ),
            (
                "CONCLUSIONS",
                "Computer-aided detection increases the adenoma detection rate, mainly of small adenomas, and its effect on interval cancer remains to be established.",
            ),
        ),
        mesh=(
            "Adenoma/diagnosis*",
            "Artificial Intelligence*",
            "Colonoscopy/methods*",
            "Colorectal Neoplasms/diagnosis",
            "Deep Learning",
            "Humans",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000022,
        title="Mailed outreach reduces disparities in colorectal cancer screening among low-income patients.",
        journal="onc",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Colorectal cancer screening rates are lower among low-income and uninsured patients, who often receive care in community health centres.",
            ),
            (
                "OBJECTIVE",
                "To evaluate whether mailing faecal immunochemical tests with reminders increases screening in community health centres serving low-income populations.",
            ),
            (
                "METHODS",
                "Twenty-six clinics were randomly assigned to usual care or to a programme that mailed an introductory letter, a test kit and up to two reminders to patients overdue for screening. The primary outcome was completion of any screening within six months.",
            ),
            (
                "RESULTS",
                "Screening was completed by 21% of 14,200 patients in intervention clinics and 11% of 13,800 patients in usual-care clinics. The increase was largest among uninsured and Spanish-speaking patients, which narrowed the gap between insured and uninsured patients.",
            ),
            (
                "CONCLUSIONS",
                "Mailed outreach increases colorectal cancer screening in community health centres and reduces disparities in screening.",
            ),
        ),
        mesh=(
            "Colorectal Neoplasms/prevention & control*",
            "Community Health Centers",
            "Early Detection of Cancer*",
            "Healthcare Disparities*",
            "Humans",
            "Poverty",
        ),
    ),
    # Cluster: malaria in East Africa
    SampleCitation(
        pmid=90000023,
        title="Artemether-lumefantrine remains efficacious for uncomplicated falciparum malaria in western Kenya.",
        journal="trop",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Partial resistance to artemisinins has emerged in East Africa, and regular surveillance of the efficacy of first-line combination therapy is recommended.",
            ),
            (
                "OBJECTIVE",
                "To determine the efficacy of artemether-lumefantrine for uncomplicated <i>Plasmodium falciparum</i> malaria in children in western Kenya.",
            ),
            (
                "METHODS",
                "Children aged six months to ten years with uncomplicated falciparum malaria received supervised artemether-lumefantrine and were followed for 28 days. Recurrent infections were classified as recrudescence or new infection by genotyping.",
            ),
            (
                "RESULTS",
                "Among 320 children, the PCR-corrected efficacy at day 28 was 97.8%. Parasitaemia on day 3 was detected in 1.6% of children. Validated <i>kelch13</i> mutations were found in 2% of baseline samples. The drug was well tolerated, and vomiting within one hour of dosing occurred in fewer than 3% of children.",
            ),
            (
                "CONCLUSIONS",
                "Artemether-lumefantrine remains highly efficacious in western Kenya, although the appearance of <i>kelch13</i> mutations warrants continued surveillance.",
            ),
        ),
        mesh=(
            "Antimalarials/therapeutic use*",
            "Artemether, Lumefantrine Drug Combination/therapeutic use*",
            "Child",
            "Child, Preschool",
            "Humans",
            "Infant",
            "Kenya/epidemiology*",
            "Malaria, Falciparum/drug therapy*",
            "Treatment Outcome",
        ),
    ),
    SampleCitation(
        pmid=90000024,
        title="Insecticide-treated bed nets reduce malaria incidence among children under five years in Kenya.",
        journal="trop",
        year=2019,
        abstract=(
            (
                "BACKGROUND",
                "Mass distribution campaigns have increased ownership of insecticide-treated bed nets, but their protective effect under widespread pyrethroid resistance is uncertain.",
            ),
            (
                "OBJECTIVE",
                "To estimate the protective effect of sleeping under an insecticide-treated net against clinical malaria in young children.",
            ),
            (
                "METHODS",
                "A cohort of 1,050 children under five years in two Kenyan counties was followed for two years with monthly household visits and passive case detection. Net use was recorded at each visit.",
            ),
            (
                "RESULTS",
                "The incidence of clinical malaria was 0.62 episodes per child-year among children who slept under a net and 1.14 among those who did not (adjusted incidence rate ratio 0.56). Protection was lower with nets older than three years.",
            ),
            (
                "CONCLUSIONS",
                "Insecticide-treated nets still substantially reduce malaria in young children despite pyrethroid resistance, and nets should be replaced before they are three years old.",
            ),
        ),
        mesh=(
            "Child, Preschool",
            "Humans",
            "Incidence",
            "Infant",
            "Insecticide-Treated Bednets*",
            "Kenya/epidemiology*",
            "Malaria/prevention & control*",
        ),
    ),
    SampleCitation(
        pmid=90000025,
        title="Pyrethroid resistance in <i>Anopheles</i> mosquitoes is increasing in the Lake Victoria basin.",
        journal="trop",
        year="2020 Jul-Aug",
        abstract=(
            (
                "BACKGROUND",
                "Malaria control in East Africa depends on pyrethroid insecticides used in bed nets and indoor spraying.",
            ),
            (
                "OBJECTIVE",
                "To measure trends in pyrethroid resistance in <i>Anopheles</i> vectors around Lake Victoria.",
            ),
            (
                "METHODS",
                "Between 2014 and 2019, adult mosquitoes reared from larvae collected at 12 sites in Kenya and Uganda were exposed to deltamethrin and permethrin in standard tube tests. Resistance mutations were genotyped.",
            ),
            (
                "RESULTS",
                "Mortality after exposure to deltamethrin fell from 78% to 31% in <i>Anopheles funestus</i> and from 84% to 52% in <i>Anopheles gambiae</i> over the study period. The <i>kdr</i> mutation was near fixation in <i>A. gambiae</i>, and pre-exposure to piperonyl butoxide restored most of the mortality.",
            ),
            (
                "CONCLUSIONS",
                "Pyrethroid resistance in malaria vectors is increasing rapidly around Lake Victoria, supporting a switch to nets that contain piperonyl butoxide.",
            ),
        ),
        mesh=(
            "Animals",
            "Anopheles/drug effects*",
            "Insecticide Resistance*",
            "Insecticides/pharmacology*",
            "Kenya",
            "Mosquito Vectors/drug effects*",
            "Pyrethrins/pharmacology",
            "Uganda",
        ),
    ),
    SampleCitation(
        pmid=90000026,
        title="<i>Plasmodium falciparum kelch13</i> mutations associated with delayed parasite clearance are spreading in northern Uganda.",
        journal="trop",
        year=2023,
        abstract=(
            (
                "BACKGROUND",
                "Mutations in the <i>kelch13</i> gene of <i>Plasmodium falciparum</i> confer partial resistance to artemisinins and have arisen independently in Africa.",
            ),
            (
                "OBJECTIVE",
                "To describe the prevalence and geographical spread of validated <i>kelch13</i> mutations in northern Uganda.",
            ),
            (
                "METHODS",
                "Dried blood spots from patients with malaria at 16 health facilities were collected annually from 2016 to 2022, and the <i>kelch13</i> propeller domain was sequenced. Parasite clearance half-lives were measured in a subset of patients treated with intravenous artesunate.",
            ),
            (
                "RESULTS",
                "The prevalence of the C469Y and A675V mutations rose from under 2% to 19% and 12% respectively. Infections carrying either mutation had a median clearance half-life of 4.1 hours, compared with 2.3 hours for wild-type parasites.",
            ),
            (
                "CONCLUSIONS",
                "Artemisinin partial resistance is spreading in northern Uganda, and therapeutic efficacy studies of partner drugs are urgently needed.",
            ),
        ),
        mesh=(
            "Drug Resistance/genetics*",
            "Humans",
            "Malaria, Falciparum/parasitology",
            "Mutation",
            "Plasmodium falciparum/genetics*",
            "Protozoan Proteins/genetics*",
            "Uganda/epidemiology*",
        ),
        keywords=("artemisinin resistance", "kelch13", "Plasmodium falciparum"),
    ),
    # Cluster: the nursing workforce
    SampleCitation(
        pmid=90000027,
        title="Twelve-hour shifts are associated with burnout among hospital nurses.",
        journal="nurs",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Twelve-hour shifts are popular with hospital managers and with many nurses, but long shifts may contribute to fatigue and burnout.",
            ),
            (
                "OBJECTIVE",
                "To examine the association between shift length and burnout among registered nurses in acute hospitals.",
            ),
            (
                "METHODS",
                "A survey of 9,820 registered nurses in 210 hospitals recorded the length of the last shift worked and burnout using the Maslach Burnout Inventory. Multilevel models adjusted for nurse and hospital characteristics.",
            ),
            (
                "RESULTS",
                "Nurses whose last shift lasted twelve hours or more were more likely to report high emotional exhaustion than those working eight hours or less (odds ratio 1.4), and more likely to intend to leave their job. Overtime had an additional, independent effect.",
            ),
            (
                "CONCLUSIONS",
                "Long shifts are associated with burnout and intention to leave among hospital nurses, and managers should monitor shift length and overtime.",
            ),
        ),
        mesh=(
            "Burnout, Professional/epidemiology*",
            "Cross-Sectional Studies",
            "Humans",
            "Nursing Staff, Hospital/psychology*",
            "Personnel Staffing and Scheduling*",
            "Surveys and Questionnaires",
            "Work Schedule Tolerance*",
        ),
    ),
    SampleCitation(
        pmid=90000028,
        title="Mindfulness-based stress reduction lowers perceived stress in intensive care nurses.",
        journal="nurs",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Intensive care nurses face sustained occupational stress, and effective interventions that fit shift work are needed.",
            ),
            (
                "OBJECTIVE",
                "To determine whether an adapted eight-week mindfulness-based stress reduction course lowers perceived stress in intensive care nurses.",
            ),
            (
                "METHODS",
                "Nurses from four intensive care units were randomly assigned to a mindfulness course delivered in short sessions at the start of shifts, or to a waiting list. Perceived stress, burnout and sleep quality were measured at baseline, after the course and three months later.",
            ),
            (
                "RESULTS",
                "Among 132 nurses, the Perceived Stress Scale score fell by 5.2 points in the mindfulness group and by 0.8 points in controls. Emotional exhaustion and sleep quality also improved, and effects persisted at three months.",
            ),
            (
                "CONCLUSIONS",
                "A mindfulness course adapted to shift work reduces perceived stress and emotional exhaustion in intensive care nurses.",
            ),
        ),
        mesh=(
            "Adult",
            "Critical Care Nursing*",
            "Female",
            "Humans",
            "Mindfulness*",
            "Nurses/psychology*",
            "Stress, Psychological/prevention & control*",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000029,
        title="Higher registered nurse staffing is associated with lower hospital mortality.",
        journal="nurs",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Several health systems have considered replacing registered nurses with less qualified staff to reduce costs.",
            ),
            (
                "OBJECTIVE",
                "To assess whether the number of patients per registered nurse is associated with mortality after common surgical procedures.",
            ),
            (
                "METHODS",
                "We linked staffing data from a survey of nurses in 300 hospitals to discharge records of 422,000 surgical patients. Logistic regression models estimated the association between patient-to-nurse ratios and 30-day mortality, adjusting for patient risk and hospital characteristics.",
            ),
            (
                "RESULTS",
                "Each additional patient per registered nurse was associated with a 7% increase in the odds of death within 30 days. Each 10% increase in the proportion of nurses holding a bachelor's degree was associated with a 5% decrease.",
            ),
            (
                "CONCLUSIONS",
                "Lower patient-to-nurse ratios and a more educated nursing workforce are associated with lower surgical mortality, which argues against replacing registered nurses.",
            ),
        ),
        mesh=(
            "Hospital Mortality*",
            "Humans",
            "Nursing*",
            "Nursing Staff, Hospital/supply & distribution*",
            "Workload",
        ),
    ),
    SampleCitation(
        pmid=90000030,
        title="Nurse practitioner-led clinics achieve blood pressure control comparable to physician-led care.",
        journal="nurs",
        year=2019,
        abstract=(
            (
                "BACKGROUND",
                "Nurse practitioners increasingly manage chronic conditions in primary care, but comparative data on outcomes are limited.",
            ),
            (
                "OBJECTIVE",
                "To compare blood pressure control in patients with hypertension managed in nurse practitioner-led clinics and in physician-led clinics.",
            ),
            (
                "METHODS",
                "In a cluster randomised trial, 24 primary care practices were allocated to nurse practitioner-led or physician-led management of hypertension for 18 months, using the same treatment protocol.",
            ),
            (
                "RESULTS",
                "Blood pressure was controlled in 68% of 1,870 patients in nurse practitioner-led clinics and in 64% of 1,910 patients in physician-led clinics. Patient satisfaction was higher and visits were longer in nurse practitioner-led clinics. Adherence to medication, measured by pharmacy refills, and the number of emergency visits were similar in the two groups.",
            ),
            (
                "CONCLUSIONS",
                "Nurse practitioner-led management of hypertension in primary care achieves blood pressure control at least as good as physician-led care.",
            ),
        ),
        mesh=(
            "Advanced Practice Nursing*",
            "Humans",
            "Hypertension/therapy",
            "Nurse Practitioners*",
            "Primary Health Care/organization & administration*",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    # Cluster: medical education
    SampleCitation(
        pmid=90000031,
        title="Simulation-based training improves central venous catheter insertion skills in residents.",
        journal="edu",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Central venous catheter insertion carries risks of arterial puncture, pneumothorax and infection, which are more frequent when operators are inexperienced.",
            ),
            (
                "OBJECTIVE",
                "To determine whether mastery learning on a simulator improves the skill of first-year residents in ultrasound-guided central venous catheter insertion.",
            ),
            (
                "METHODS",
                "First-year residents in internal medicine and anaesthesia completed a pre-test on a task trainer, deliberate practice with feedback, and a post-test that they had to pass before performing the procedure on patients. Complications were compared with those of residents trained in the preceding two years.",
            ),
            (
                "RESULTS",
                "Checklist scores rose from a mean of 48% to 94% after training. In patients, arterial punctures fell from 7.1% to 1.9% of insertions and catheter-related bloodstream infections also declined.",
            ),
            (
                "CONCLUSIONS",
                "Simulation-based mastery learning improves residents' skills in central venous catheter insertion and reduces complications in patients.",
            ),
        ),
        mesh=(
            "Catheterization, Central Venous*",
            "Clinical Competence*",
            "Humans",
            "Internship and Residency*",
            "Simulation Training*",
        ),
    ),
    SampleCitation(
        pmid=90000032,
        title="Problem-based learning improves clinical reasoning in undergraduate medical students.",
        journal="edu",
        year=2020,
        abstract="Problem-based learning is widely used in medical schools, but whether it improves clinical reasoning compared with lecture-based teaching remains debated. To determine whether a problem-based curriculum in the preclinical years improves clinical reasoning at the start of clinical training, we compared two consecutive cohorts at one medical school before and after a change of curriculum. Students completed a script concordance test and a set of written clinical vignettes at the start of their third year, and scores were compared after adjustment for entry grades. The 212 students taught with problem-based learning scored higher on the script concordance test than the 205 students taught with lectures (mean difference 6.3 points), and vignette scores showed a similar advantage. Knowledge test scores did not differ between cohorts. Students taught with problem-based learning reported more confidence in managing uncertainty. Problem-based learning in the preclinical years is associated with better clinical reasoning without loss of factual knowledge.",
        mesh=(
            "Clinical Competence",
            "Curriculum",
            "Education, Medical, Undergraduate*",
            "Humans",
            "Problem-Based Learning*",
            "Students, Medical*",
        ),
    ),
    SampleCitation(
        pmid=90000033,
        title="Structured peer feedback improves communication skills of nursing students in simulated consultations.",
        journal="edu",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Communication skills are central to nursing, and feedback from peers could complement limited faculty time.",
            ),
            (
                "OBJECTIVE",
                "To evaluate whether structured peer feedback improves the communication skills of nursing students in simulated consultations.",
            ),
            (
                "METHODS",
                "Second-year nursing students were randomly assigned to practise simulated consultations with structured peer feedback using a checklist, or with unstructured discussion. Communication was rated by blinded assessors on video recordings before and after a six-week module.",
            ),
            (
                "RESULTS",
                "Among 164 students, communication scores improved by 14 points with structured peer feedback and by 7 points with unstructured discussion. Students who gave feedback also improved their own scores. Most students found the checklist easy to use, although some reported discomfort in criticising classmates at first.",
            ),
            (
                "CONCLUSIONS",
                "Structured peer feedback improves nursing students' communication skills and is a useful addition to faculty teaching.",
            ),
        ),
        mesh=(
            "Communication",
            "Education, Nursing*",
            "Formative Feedback*",
            "Humans",
            "Peer Group",
            "Students, Nursing*",
        ),
    ),
    SampleCitation(
        pmid=90000034,
        title="Residents' sleep deprivation does not explain the July effect on surgical outcomes.",
        journal="edu",
        year=2019,
        abstract=(
            (
                "BACKGROUND",
                "Surgical outcomes are sometimes said to worsen in July, when new residents start work in teaching hospitals.",
            ),
            (
                "OBJECTIVE",
                "To determine whether outcomes of general surgery differ between July and other months in teaching hospitals, and whether resident duty hours explain any difference.",
            ),
            (
                "METHODS",
                "Outcomes of 95,000 general surgical operations in 40 teaching hospitals were compared by month using hierarchical models. Resident duty hours were obtained from the hospitals' scheduling records.",
            ),
            (
                "RESULTS",
                "Thirty-day mortality and major complications did not differ between July and other months. Operations in July took eleven minutes longer on average. Duty hours were similar across the year and were not associated with complications.",
            ),
            (
                "CONCLUSIONS",
                "There is no July effect on surgical mortality or complications in teaching hospitals, although operations take slightly longer at the start of the academic year.",
            ),
        ),
        mesh=(
            "General Surgery/education*",
            "Hospitals, Teaching",
            "Humans",
            "Internship and Residency*",
            "Postoperative Complications/epidemiology",
            "Seasons",
        ),
    ),
)

# In-process records (no MeSH yet), a title-only letter and the duplicated PMID of file 1.
BASELINE_1_SPECIAL: tuple[SampleCitation, ...] = (
    SampleCitation(
        pmid=90000061,
        title="Semaglutide lowers liver fat content in adults with metabolic dysfunction-associated steatotic liver disease.",
        journal="metab",
        year=2024,
        status="In-Process",
        abstract=(
            (
                "BACKGROUND",
                "Metabolic dysfunction-associated steatotic liver disease affects a quarter of adults, and no drug is widely approved for it.",
            ),
            (
                "OBJECTIVE",
                "To determine whether weekly semaglutide reduces liver fat content measured by magnetic resonance imaging.",
            ),
            (
                "METHODS",
                "Adults with liver fat above 10% and overweight were randomly assigned to subcutaneous semaglutide 2.4 mg weekly or placebo for 48 weeks. Liver fat was quantified as the proton density fat fraction.",
            ),
            (
                "RESULTS",
                "Among 180 participants, liver fat fell by a relative 46% with semaglutide and by 9% with placebo. Alanine aminotransferase and body weight decreased in parallel, and 38% of participants treated with semaglutide reached a liver fat fraction below 5%. Nausea was the most common adverse event.",
            ),
            (
                "CONCLUSIONS",
                "Semaglutide substantially reduces liver fat in adults with steatotic liver disease, largely in proportion to weight loss.",
            ),
        ),
    ),
    SampleCitation(
        pmid=90000063,
        title="Metformin and vitamin B12: time to screen.",
        journal="metab",
        year=2023,
        abstract=None,
        mesh=(
            "Diabetes Mellitus, Type 2/drug therapy",
            "Humans",
            "Metformin/adverse effects*",
            "Vitamin B 12 Deficiency/diagnosis*",
        ),
        publication_types=("Letter", "Comment"),
    ),
    # The same PMID again later in the same file: NLM's later record replaces the earlier one.
    SampleCitation(
        pmid=90000003,
        title="Long-term metformin use is associated with vitamin B12 deficiency in older adults with type 2 diabetes.",
        journal="metab",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Metformin reduces the absorption of vitamin B12 in the terminal ileum, and older adults are already at risk of deficiency.",
            ),
            (
                "OBJECTIVE",
                "To assess whether the duration and dose of metformin are associated with vitamin B12 deficiency in adults aged 65 years or older with type 2 diabetes.",
            ),
            (
                "METHODS",
                "In this cross-sectional study of 612 patients attending four diabetes clinics, serum vitamin B12 and methylmalonic acid were measured. Deficiency was defined as vitamin B12 below 150 pmol/L or a level between 150 and 220 pmol/L with raised methylmalonic acid. Associations were estimated with logistic regression adjusted for age, sex, renal function and proton pump inhibitor use.",
            ),
            (
                "RESULTS",
                "Deficiency was present in 22% of metformin users and 8% of non-users. Each additional five years of metformin treatment increased the odds of deficiency (adjusted odds ratio 1.5, 95% confidence interval 1.2 to 1.9), as did daily doses of 2000 mg or more. Peripheral neuropathy scores were higher in deficient patients, and deficiency was more frequent in patients taking proton pump inhibitors.",
            ),
            (
                "CONCLUSIONS",
                "Vitamin B12 deficiency is common in older adults taking metformin for many years, and periodic measurement of vitamin B12 is warranted in this group.",
            ),
        ),
        mesh=(
            "Aged",
            "Cross-Sectional Studies",
            "Diabetes Mellitus, Type 2/drug therapy",
            "Female",
            "Humans",
            "Male",
            "Metformin/adverse effects*",
            "Proton Pump Inhibitors/adverse effects",
            "Vitamin B 12 Deficiency/chemically induced*",
        ),
        date_revised=(2023, 2, 7),
    ),
)

# --------------------------------------------------------------------------------------------
# Baseline file 2 (pubmed26n0002): food and agriculture, ethics and humanities, clinical
# informatics, telemedicine, gene editing, wearables, anatomy.
# --------------------------------------------------------------------------------------------
BASELINE_2: tuple[SampleCitation, ...] = (
    # Cluster: food safety and agriculture
    SampleCitation(
        pmid=90000035,
        title="<i>Salmonella</i> contamination of retail chicken is more frequent in products from large processing plants.",
        journal="food",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Poultry meat is a leading source of human salmonellosis, and contamination rates may depend on how birds are slaughtered and processed.",
            ),
            (
                "OBJECTIVE",
                "To estimate the prevalence of <i>Salmonella</i> on retail chicken and to identify processing characteristics associated with contamination.",
            ),
            (
                "METHODS",
                "Over two years, 1,480 packages of raw chicken were bought from supermarkets and butchers in five regions and cultured for <i>Salmonella</i>. Processing plants were identified from the packaging, and isolates were serotyped and tested for antimicrobial susceptibility.",
            ),
            (
                "RESULTS",
                "<i>Salmonella</i> was recovered from 14% of packages. Products from plants slaughtering more than 100,000 birds per day were contaminated more often than those from smaller plants (18% versus 9%). <i>Salmonella</i> Infantis was the most common serovar, and 41% of isolates were resistant to three or more antibiotic classes.",
            ),
            (
                "CONCLUSIONS",
                "One in seven retail chicken packages carries <i>Salmonella</i>, often multidrug resistant, and control measures should focus on high-throughput processing plants.",
            ),
        ),
        mesh=(
            "Animals",
            "Chickens/microbiology",
            "Drug Resistance, Bacterial",
            "Food Contamination/analysis*",
            "Food Microbiology*",
            "Poultry Products/microbiology*",
            "Salmonella/isolation & purification*",
        ),
    ),
    SampleCitation(
        pmid=90000036,
        title="Pesticide residues on vegetables exceed maximum limits more often in produce from smallholder farms.",
        journal="food",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Smallholder farms supply much of the fresh produce sold in urban markets, but their use of pesticides is rarely monitored.",
            ),
            (
                "OBJECTIVE",
                "To measure pesticide residues on vegetables sold in urban markets and compare produce from smallholder and commercial farms.",
            ),
            (
                "METHODS",
                "We sampled 620 lots of tomatoes, leafy greens and cabbage from 18 markets and traced each lot to its farm. Residues of 140 pesticides were quantified by liquid and gas chromatography with tandem mass spectrometry and compared with maximum residue limits.",
            ),
            (
                "RESULTS",
                "Residues exceeded at least one maximum limit in 23% of lots from smallholder farms and 7% of lots from commercial farms. Organophosphates such as chlorpyrifos accounted for most exceedances, and leafy greens were most affected. Washing reduced residues by about a third.",
            ),
            (
                "CONCLUSIONS",
                "Pesticide residues above legal limits are common on vegetables from smallholder farms, and training in pesticide use and pre-harvest intervals is needed.",
            ),
        ),
        mesh=(
            "Agriculture*",
            "Food Contamination/analysis*",
            "Pesticide Residues/analysis*",
            "Vegetables/chemistry*",
        ),
    ),
    SampleCitation(
        pmid=90000037,
        title="Breaks in the cold chain allow <i>Listeria monocytogenes</i> to grow in ready-to-eat foods.",
        journal="food",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "<i>Listeria monocytogenes</i> can multiply at refrigeration temperatures, and temperature abuse during distribution and home storage may increase the risk of listeriosis.",
            ),
            (
                "OBJECTIVE",
                "To quantify how often ready-to-eat foods experience temperature abuse between production and consumption, and how much <i>Listeria</i> grows as a result.",
            ),
            (
                "METHODS",
                "Temperature loggers were placed in 300 packages of sliced meats and smoked fish followed from factory to household refrigerators. Growth of <i>L. monocytogenes</i> was predicted from the recorded temperatures with a validated model and confirmed in challenge tests.",
            ),
            (
                "RESULTS",
                "Packages spent a median of 11% of their shelf life above 8 °C, mostly during retail display and in household refrigerators. Predicted growth exceeded 2 log units in 16% of smoked fish packages. Household refrigerators above 7 °C contributed more to growth than transport.",
            ),
            (
                "CONCLUSIONS",
                "Temperature abuse in retail display and household refrigerators allows substantial growth of <i>Listeria</i> in ready-to-eat foods, and consumer advice on refrigerator temperature should be strengthened.",
            ),
        ),
        mesh=(
            "Food Handling/methods*",
            "Food Microbiology",
            "Food Storage*",
            "Humans",
            "Listeria monocytogenes/growth & development*",
            "Refrigeration*",
            "Temperature",
        ),
    ),
    SampleCitation(
        pmid=90000038,
        title="Occupational pesticide exposure lowers cholinesterase activity in farm workers during the spraying season.",
        journal="food",
        year=2019,
        abstract=(
            (
                "BACKGROUND",
                "Farm workers who mix and spray organophosphate pesticides may be exposed through the skin and by inhalation, particularly without protective equipment.",
            ),
            (
                "OBJECTIVE",
                "To determine whether red cell cholinesterase activity falls in farm workers during the spraying season and whether protective equipment attenuates the fall.",
            ),
            (
                "METHODS",
                "Blood cholinesterase was measured in 210 farmers before and at the end of the spraying season, and use of gloves, masks and coveralls was recorded by observation and questionnaire.",
            ),
            (
                "RESULTS",
                "Cholinesterase activity fell by a mean of 14% over the season, and by more than 30% in 12% of workers. The fall was half as large among workers who consistently wore gloves and coveralls. Headache and blurred vision were more frequent among workers with large falls.",
            ),
            (
                "CONCLUSIONS",
                "Organophosphate spraying causes measurable cholinesterase inhibition in farm workers that is reduced by protective equipment, which should be provided and its use enforced.",
            ),
        ),
        mesh=(
            "Agricultural Workers' Diseases/chemically induced*",
            "Cholinesterases/blood",
            "Farmers*",
            "Humans",
            "Occupational Exposure/adverse effects*",
            "Pesticides/toxicity*",
        ),
    ),
    # Cluster: ethics and medical humanities
    SampleCitation(
        pmid=90000039,
        title="Most participants in cancer trials do not understand randomisation after giving informed consent.",
        journal="ethics",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Valid informed consent requires that research participants understand the essential features of a trial, including randomisation and the possibility of receiving no benefit.",
            ),
            (
                "OBJECTIVE",
                "To assess the understanding of trial features among patients who had recently consented to a randomised cancer trial.",
            ),
            (
                "METHODS",
                "Within two weeks of consent, 318 participants in 22 oncology trials completed a validated questionnaire on the purpose of the trial, randomisation, risks and the right to withdraw.",
            ),
            (
                "RESULTS",
                "Ninety-two per cent knew they could withdraw at any time, but only 38% understood that their treatment had been assigned by chance, and 61% expected a personal benefit. Understanding was better when consent discussions lasted more than 30 minutes and when a research nurse was present.",
            ),
            (
                "CONCLUSIONS",
                "Many trial participants misunderstand randomisation despite signed consent, and consent processes should include more time and a check of understanding.",
            ),
        ),
        mesh=(
            "Clinical Trials as Topic/ethics*",
            "Comprehension*",
            "Ethics, Research*",
            "Humans",
            "Informed Consent/ethics*",
            "Neoplasms/therapy",
            "Research Subjects/psychology*",
        ),
    ),
    SampleCitation(
        pmid=90000040,
        title="Physicians' attitudes towards medical assistance in dying changed after legalisation.",
        journal="ethics",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Legalisation of medical assistance in dying raises ethical questions for physicians, whose attitudes may shift once the practice is lawful.",
            ),
            (
                "OBJECTIVE",
                "To compare physicians' attitudes towards medical assistance in dying before and three years after its legalisation.",
            ),
            (
                "METHODS",
                "Random samples of physicians in one province were surveyed in the year before legalisation and three years after it, with identical questions on moral acceptability, willingness to participate and conscientious objection.",
            ),
            (
                "RESULTS",
                "Responses were received from 1,204 physicians before and 1,151 after legalisation. The proportion who considered assistance in dying morally acceptable rose from 48% to 63%, and willingness to provide it rose from 19% to 31%. Palliative care physicians remained the most opposed.",
            ),
            (
                "CONCLUSIONS",
                "Acceptance of medical assistance in dying among physicians increased after legalisation, but substantial conscientious objection persists, especially in palliative care.",
            ),
        ),
        mesh=(
            "Attitude of Health Personnel*",
            "Ethics, Medical*",
            "Humans",
            "Physicians/psychology*",
            "Suicide, Assisted/ethics*",
            "Surveys and Questionnaires",
        ),
    ),
    SampleCitation(
        pmid=90000041,
        title="Newspaper reporting of the 1918 influenza pandemic shaped compliance with public health orders.",
        journal="ethics",
        year=2020,
        abstract="Historians have described wide variation in how cities responded to the 1918 influenza pandemic, but the role of the press in public compliance has received less attention. To examine how newspaper coverage related to compliance with closure and masking orders during the autumn wave of 1918, we analysed 2,900 articles from 24 newspapers in twelve cities, coded for tone towards public health orders, and compared them with police records of violations and with excess mortality. Cities whose newspapers consistently supported closure orders had fewer recorded violations and closed schools and theatres earlier. Sensational reporting of deaths was not associated with better compliance, and opposition from business columns preceded the early lifting of orders in several cities. Excess mortality was lower in cities with sustained supportive coverage. Newspaper coverage in 1918 was associated with how cities complied with public health orders, a lesson for communication during modern pandemics.",
        mesh=(
            "History, 20th Century*",
            "Humans",
            "Influenza Pandemic, 1918-1919/history*",
            "Newspapers as Topic/history*",
            "Public Health/history*",
        ),
        publication_types=("Historical Article", "Journal Article"),
    ),
    SampleCitation(
        pmid=90000042,
        title="Reading fiction in narrative medicine seminars increases empathy in medical students.",
        journal="ethics",
        year="2021 Nov-Dec",
        abstract=(
            (
                "BACKGROUND",
                "Empathy declines during medical training, and teaching with literature has been proposed to counter this decline.",
            ),
            (
                "OBJECTIVE",
                "To determine whether a narrative medicine seminar based on close reading of fiction increases empathy in medical students.",
            ),
            (
                "METHODS",
                "Third-year students were randomly allocated to eight weekly seminars reading short stories and novels about illness, with reflective writing, or to a standard communication course. Empathy was measured with the Jefferson Scale of Empathy and with rated patient encounters.",
            ),
            (
                "RESULTS",
                "Among 140 students, Jefferson scale scores rose by 6.8 points after the literature seminars and fell by 1.2 points after the standard course. Standardised patients rated seminar participants as more empathic. Students valued the discussion of uncertainty in the stories.",
            ),
            (
                "CONCLUSIONS",
                "Narrative medicine seminars based on fiction increase empathy in medical students, and medical humanities deserve a place in the clinical curriculum.",
            ),
        ),
        mesh=(
            "Empathy*",
            "Humans",
            "Literature*",
            "Medicine in Literature*",
            "Narrative Medicine*",
            "Students, Medical/psychology*",
        ),
    ),
    # Cluster: artificial intelligence and clinical informatics
    SampleCitation(
        pmid=90000043,
        title="A deep learning model detects pneumothorax on chest radiographs with radiologist-level accuracy.",
        journal="digital",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Pneumothorax on chest radiographs can be subtle and delays in reporting may harm patients, particularly after procedures.",
            ),
            (
                "OBJECTIVE",
                "To evaluate whether a deep learning model detects pneumothorax on chest radiographs as accurately as radiologists.",
            ),
            (
                "METHODS",
                "A convolutional neural network was trained on 42,000 labelled radiographs and tested on 1,800 radiographs from two other hospitals, with computed tomography or consensus reading as the reference standard. Its performance was compared with that of six radiologists.",
            ),
            (
                "RESULTS",
                "The model achieved an area under the curve of 0.95, with a sensitivity of 89% and a specificity of 93% at the chosen threshold. Radiologists had a mean sensitivity of 84% at a similar specificity. The model missed small apical pneumothoraces and was misled by chest drains.",
            ),
            (
                "CONCLUSIONS",
                "Deep learning detects pneumothorax on chest radiographs with accuracy comparable to radiologists and could be used to prioritise urgent reports.",
            ),
        ),
        mesh=(
            "Deep Learning*",
            "Humans",
            "Pneumothorax/diagnostic imaging*",
            "ROC Curve",
            "Radiographic Image Interpretation, Computer-Assisted/methods*",
            "Radiography, Thoracic*",
        ),
    ),
    SampleCitation(
        pmid=90000044,
        title="Natural language processing of clinical notes identifies patients with heart failure missed by diagnosis codes.",
        journal="digital",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Diagnosis codes in electronic health records underestimate the prevalence of heart failure, which limits their use for quality improvement and research.",
            ),
            (
                "OBJECTIVE",
                "To determine whether natural language processing of clinical notes identifies patients with heart failure who lack a diagnosis code.",
            ),
            (
                "METHODS",
                "A rule-based and machine learning pipeline extracted mentions of heart failure, ejection fraction and diuretic treatment from 1.2 million notes of 48,000 adults. Performance was assessed against manual chart review of 1,000 records.",
            ),
            (
                "RESULTS",
                "The pipeline identified heart failure with a sensitivity of 92% and a positive predictive value of 88%. Of patients confirmed to have heart failure by chart review, 27% had no heart failure diagnosis code, most often those with preserved ejection fraction.",
            ),
            (
                "CONCLUSIONS",
                "Natural language processing of clinical notes finds many patients with heart failure who are invisible to diagnosis codes, especially those with preserved ejection fraction.",
            ),
        ),
        mesh=(
            "Electronic Health Records*",
            "Heart Failure/diagnosis*",
            "Humans",
            "Machine Learning",
            "Natural Language Processing*",
        ),
    ),
    SampleCitation(
        pmid=90000045,
        title="A commercial sepsis prediction model performs worse in external validation than reported by its developer.",
        journal="digital",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Proprietary sepsis prediction models embedded in electronic health records are widely deployed, often without independent evaluation.",
            ),
            (
                "OBJECTIVE",
                "To assess the discrimination and calibration of a widely used proprietary sepsis model in an independent hospital population.",
            ),
            (
                "METHODS",
                "We studied 38,000 hospitalisations in which the model ran silently. Sepsis was defined by clinical criteria applied retrospectively. We measured discrimination, calibration, alert burden and differences between demographic groups.",
            ),
            (
                "RESULTS",
                "The area under the curve was 0.63, lower than the 0.76 to 0.83 reported by the developer. At the recommended threshold the model generated alerts for 18% of hospitalisations and missed two thirds of sepsis cases. Calibration was worse for Black patients than for White patients.",
            ),
            (
                "CONCLUSIONS",
                "The proprietary sepsis model discriminates poorly and generates many alerts, and clinical prediction models should be validated locally before deployment.",
            ),
        ),
        mesh=(
            "Algorithms",
            "Decision Support Systems, Clinical*",
            "Humans",
            "Machine Learning*",
            "Sepsis/diagnosis*",
        ),
    ),
    SampleCitation(
        pmid=90000046,
        title="A large language model drafts replies to patient portal messages that clinicians rate as accurate and empathic.",
        journal="digital",
        year=2024,
        abstract=(
            (
                "BACKGROUND",
                "Patient messages sent through electronic portals have increased clinicians' workload, and large language models could draft replies.",
            ),
            (
                "OBJECTIVE",
                "To evaluate the quality of replies to patient messages drafted by a large language model compared with replies written by clinicians.",
            ),
            (
                "METHODS",
                "Five hundred anonymised patient messages were answered by a large language model and by the clinicians who originally received them. Blinded clinicians rated replies for accuracy, completeness and empathy, and patients rated a subset for clarity.",
            ),
            (
                "RESULTS",
                "Model drafts were preferred in 62% of comparisons and rated more empathic, while accuracy did not differ. Six per cent of drafts contained an error that could cause harm if sent unedited, most often wrong advice about medication timing.",
            ),
            (
                "CONCLUSIONS",
                "Drafts by a large language model are often rated as accurate and empathic, but they require clinician review before being sent.",
            ),
        ),
        mesh=(
            "Artificial Intelligence*",
            "Electronic Health Records",
            "Humans",
            "Natural Language Processing*",
            "Patient Education as Topic",
        ),
    ),
    # Cluster: telemedicine for rural and older patients
    SampleCitation(
        pmid=90000047,
        title="Video consultations reduce travel for rural patients with heart failure without increasing readmissions.",
        journal="digital",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Patients with heart failure living in rural areas often travel long distances for specialist follow-up.",
            ),
            (
                "OBJECTIVE",
                "To determine whether replacing half of specialist follow-up visits with video consultations affects readmissions in rural patients with heart failure.",
            ),
            (
                "METHODS",
                "Patients discharged after admission for heart failure from a regional hospital were randomised to standard in-person follow-up or to alternating video and in-person visits for one year.",
            ),
            (
                "RESULTS",
                "Among 310 patients, readmission for heart failure occurred in 24% of the video group and 26% of the standard group. Video consultations saved a median of 420 km of travel per patient per year. Satisfaction was high in both groups, and 9% of video visits were converted to telephone calls because of poor connections.",
            ),
            (
                "CONCLUSIONS",
                "Video follow-up is safe for rural patients with heart failure and greatly reduces travel.",
            ),
        ),
        mesh=(
            "Aged",
            "Heart Failure/therapy*",
            "Humans",
            "Patient Readmission",
            "Remote Consultation",
            "Rural Population*",
            "Telemedicine*",
        ),
    ),
    SampleCitation(
        pmid=90000048,
        title="Home blood pressure telemonitoring improves hypertension control in older adults.",
        journal="digital",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Blood pressure control is often poor in older adults, and clinic readings may not reflect usual blood pressure.",
            ),
            (
                "OBJECTIVE",
                "To assess whether home blood pressure telemonitoring with pharmacist management improves control in adults aged 70 years or older.",
            ),
            (
                "METHODS",
                "Older adults with uncontrolled hypertension were randomly assigned to usual care or to a programme in which home readings were transmitted automatically to a pharmacist who adjusted treatment under protocol. The primary outcome was ambulatory blood pressure at 12 months.",
            ),
            (
                "RESULTS",
                "Among 420 participants, daytime ambulatory systolic pressure fell by 11 mm Hg with telemonitoring and by 4 mm Hg with usual care. Falls and symptomatic hypotension did not increase. Most participants transmitted readings at least weekly.",
            ),
            (
                "CONCLUSIONS",
                "Home telemonitoring with pharmacist management safely improves blood pressure control in older adults.",
            ),
        ),
        mesh=(
            "Aged",
            "Aged, 80 and over",
            "Blood Pressure Monitoring, Ambulatory*",
            "Humans",
            "Hypertension/therapy*",
            "Telemedicine/methods*",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000049,
        title="Low digital literacy limits the use of telehealth by older adults.",
        journal="digital",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Telehealth expanded rapidly during the COVID-19 pandemic, but older adults may lack the skills and devices needed to use it.",
            ),
            (
                "OBJECTIVE",
                "To examine the association of digital and health literacy with telehealth use among adults aged 65 years or older.",
            ),
            (
                "METHODS",
                "A telephone survey of 2,300 older adults assessed digital literacy with the eHealth Literacy Scale, health literacy, device ownership and use of video or telephone consultations in the previous year.",
            ),
            (
                "RESULTS",
                "Forty-one per cent had low digital literacy. They were less likely to have used video consultations (odds ratio 0.32) even after adjustment for device ownership, income and education, while telephone consultations were used equally. Help from a family member attenuated the difference.",
            ),
            (
                "CONCLUSIONS",
                "Low digital literacy is a major barrier to video telehealth among older adults, and telephone options and digital skills support should be maintained.",
            ),
        ),
        mesh=(
            "Aged",
            "Computer Literacy*",
            "Health Literacy*",
            "Humans",
            "Telemedicine/statistics & numerical data*",
        ),
    ),
    SampleCitation(
        pmid=90000050,
        title="Travel time to specialist care is longer for patients in remote areas of Scotland.",
        journal="digital",
        year=2019,
        abstract="Geographical access to hospital specialists varies widely within countries with universal health coverage, but few studies have measured it for whole populations. We aimed to determine how travel time to specialist outpatient clinics differs between urban, rural and remote areas of Scotland, and whether longer travel is associated with missed appointments. We calculated road and ferry travel times from every residential postcode to the nearest clinic in eight specialties and linked them to 2.4 million outpatient appointments over three years. Median travel time was 18 minutes in urban areas, 46 minutes in accessible rural areas and 2 hours 40 minutes in remote and island areas. Each additional hour of travel increased the odds of a missed appointment by 12%, and the effect was strongest for follow-up visits. Patients in remote areas of Scotland face long journeys to specialist care that contribute to missed appointments, supporting outreach clinics and remote consultation.",
        mesh=(
            "Ambulatory Care Facilities",
            "Health Services Accessibility*",
            "Humans",
            "Rural Health Services*",
            "Scotland*",
            "Travel*",
        ),
    ),
    # Cluster: gene editing and gene therapy
    SampleCitation(
        pmid=90000051,
        title="CRISPR-Cas9 editing of the <i>BCL11A</i> enhancer restores fetal haemoglobin in sickle cell disease.",
        journal="genet",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Fetal haemoglobin inhibits the polymerisation of sickle haemoglobin, and its silencing after birth depends on the transcription factor BCL11A.",
            ),
            (
                "OBJECTIVE",
                "To determine whether autologous haematopoietic stem cells edited at the erythroid enhancer of <i>BCL11A</i> increase fetal haemoglobin and prevent vaso-occlusive crises.",
            ),
            (
                "METHODS",
                "Patients with severe sickle cell disease received myeloablative busulfan followed by infusion of their own CD34<sup>+</sup> cells edited with CRISPR-Cas9. Fetal haemoglobin, editing frequency and vaso-occlusive crises were monitored for at least 12 months.",
            ),
            (
                "RESULTS",
                "In 12 patients, fetal haemoglobin rose to a mean of 41% of total haemoglobin, with pancellular distribution. Allelic editing remained stable in bone marrow. No vaso-occlusive crisis occurred after engraftment, compared with a mean of 7 per year before treatment. Adverse events were attributable to busulfan.",
            ),
            (
                "CONCLUSIONS",
                "Editing of the <i>BCL11A</i> erythroid enhancer produces durable fetal haemoglobin induction and eliminates vaso-occlusive crises in sickle cell disease.",
            ),
        ),
        mesh=(
            "Anemia, Sickle Cell/therapy*",
            "CRISPR-Cas Systems*",
            "Fetal Hemoglobin/biosynthesis*",
            "Gene Editing/methods*",
            "Genetic Therapy/methods",
            "Hematopoietic Stem Cells",
            "Humans",
        ),
    ),
    SampleCitation(
        pmid=90000052,
        title="Whole-genome sequencing reveals rare off-target edits after base editing of human stem cells.",
        journal="genet",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Base editors change single nucleotides without double-strand breaks, but their deaminase domains may act on unintended sites in DNA and RNA.",
            ),
            (
                "OBJECTIVE",
                "To measure the frequency and distribution of off-target mutations after adenine and cytosine base editing of human haematopoietic stem cells.",
            ),
            (
                "METHODS",
                "Clonal populations derived from edited and mock-treated stem cells of three donors were analysed by whole-genome sequencing at 60-fold coverage, and transcriptomes were examined for RNA editing.",
            ),
            (
                "RESULTS",
                "Cytosine base editing increased single-nucleotide variants genome-wide by about 20% over mock treatment, with an enrichment in transcribed regions, whereas adenine base editing produced no detectable excess. Transient RNA editing was observed with both editors and resolved within 72 hours.",
            ),
            (
                "CONCLUSIONS",
                "Adenine base editors are more precise than cytosine base editors in human stem cells, and genome-wide screening should accompany clinical development.",
            ),
        ),
        mesh=(
            "CRISPR-Cas Systems",
            "Gene Editing*",
            "Genome, Human*",
            "Hematopoietic Stem Cells",
            "Humans",
            "Mutation*",
            "Whole Genome Sequencing",
        ),
    ),
    SampleCitation(
        pmid=90000053,
        title="Subretinal adeno-associated virus gene therapy improves night vision in <i>RPGR</i>-associated retinitis pigmentosa.",
        journal="genet",
        year=2023,
        abstract=(
            (
                "BACKGROUND",
                "X-linked retinitis pigmentosa caused by mutations in <i>RPGR</i> leads to progressive loss of night and peripheral vision, and no treatment is available.",
            ),
            (
                "OBJECTIVE",
                "To evaluate the safety and efficacy of subretinal delivery of an adeno-associated virus vector carrying a codon-optimised <i>RPGR</i> gene.",
            ),
            (
                "METHODS",
                "In this phase 1/2 dose-escalation study, 18 men received the vector in one eye. Visual function was assessed by microperimetry and dark-adapted perimetry, with the untreated eye as control.",
            ),
            (
                "RESULTS",
                "At the two higher doses, retinal sensitivity improved by at least 7 dB in treated eyes in seven of twelve participants, with no change in untreated eyes. Subretinal inflammation occurred in three participants and responded to corticosteroids.",
            ),
            (
                "CONCLUSIONS",
                "Subretinal AAV gene therapy for <i>RPGR</i>-associated retinitis pigmentosa is feasible and improves retinal sensitivity at higher doses.",
            ),
        ),
        mesh=(
            "Dependovirus/genetics*",
            "Genetic Therapy/methods*",
            "Genetic Vectors*",
            "Humans",
            "Male",
            "Retinitis Pigmentosa/therapy*",
        ),
    ),
    # Cluster: wearables and physical activity
    SampleCitation(
        pmid=90000054,
        title="Wrist-worn accelerometers undercount steps in older adults who walk with walkers.",
        journal="digital",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "Consumer activity trackers are increasingly used to monitor physical activity in older adults, but their algorithms are developed in young people walking freely.",
            ),
            (
                "OBJECTIVE",
                "To assess the accuracy of wrist-worn and hip-worn accelerometers in counting steps in older adults who use walkers.",
            ),
            (
                "METHODS",
                "Sixty adults aged 70 years or older, half of whom used a walker, wore two wrist devices and one hip device during a standardised walking test and for seven days at home. Steps were counted from video during the test.",
            ),
            (
                "RESULTS",
                "Wrist devices undercounted steps by 58% in walker users and by 9% in other participants. The hip device undercounted by 12% in walker users. Accuracy was worst at slow gait speeds below 0.6 m/s.",
            ),
            (
                "CONCLUSIONS",
                "Wrist-worn trackers greatly underestimate walking in older adults who use walkers, and hip-worn devices are preferable for this group.",
            ),
        ),
        mesh=(
            "Accelerometry/instrumentation*",
            "Aged",
            "Humans",
            "Walkers*",
            "Walking*",
            "Wearable Electronic Devices*",
        ),
    ),
    SampleCitation(
        pmid=90000055,
        title="A gamified smartphone application increases daily physical activity in adolescents.",
        journal="digital",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Few adolescents meet recommendations of one hour of moderate to vigorous physical activity per day, and smartphone applications could reach them at low cost.",
            ),
            (
                "OBJECTIVE",
                "To determine whether a smartphone application with team challenges and rewards increases daily physical activity in adolescents.",
            ),
            (
                "METHODS",
                "Twenty secondary schools were randomised to offer the application or a standard information leaflet to students aged 13 to 16 years. Physical activity was measured by accelerometry for one week at baseline and after 12 weeks.",
            ),
            (
                "RESULTS",
                "Among 1,620 students, moderate to vigorous activity increased by 9 minutes per day more in intervention schools than in control schools. The effect was larger in girls and declined among students who stopped opening the application.",
            ),
            (
                "CONCLUSIONS",
                "A gamified smartphone application modestly increases physical activity in adolescents, and sustaining engagement is the main challenge.",
            ),
        ),
        mesh=(
            "Adolescent*",
            "Exercise*",
            "Female",
            "Humans",
            "Male",
            "Mobile Applications*",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000056,
        title="Replacing sedentary time with light activity measured by fitness trackers lowers cardiometabolic risk.",
        journal="metab",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Sedentary behaviour is associated with cardiometabolic risk independently of moderate to vigorous exercise.",
            ),
            (
                "OBJECTIVE",
                "To estimate the association of replacing sedentary time with light physical activity, measured by consumer fitness trackers, with cardiometabolic risk factors.",
            ),
            (
                "METHODS",
                "In 3,400 adults who wore a fitness tracker for at least 10 days, isotemporal substitution models related sedentary, light and moderate to vigorous activity time to waist circumference, triglycerides, glycated haemoglobin and blood pressure.",
            ),
            (
                "RESULTS",
                "Replacing 30 minutes per day of sedentary time with light activity was associated with a 1.4 cm smaller waist, 6% lower triglycerides and a small reduction in glycated haemoglobin. Replacement with moderate to vigorous activity had about three times the effect per minute.",
            ),
            (
                "CONCLUSIONS",
                "Replacing sedentary time with light activity is associated with a better cardiometabolic profile, which supports advice to sit less as well as to exercise more.",
            ),
        ),
        mesh=(
            "Adult",
            "Cardiometabolic Risk Factors*",
            "Exercise",
            "Fitness Trackers*",
            "Humans",
            "Sedentary Behavior*",
        ),
    ),
    # Cluster: anatomy and development
    SampleCitation(
        pmid=90000057,
        title="The vertebral artery enters the transverse foramen above the sixth cervical vertebra in one in twenty people.",
        journal="anat",
        year=2021,
        abstract=(
            (
                "BACKGROUND",
                "The vertebral artery usually enters the transverse foramen of the sixth cervical vertebra, and variant courses put it at risk during anterior cervical surgery.",
            ),
            (
                "OBJECTIVE",
                "To determine the frequency of variant entry levels of the vertebral artery and their association with side and sex.",
            ),
            (
                "METHODS",
                "We dissected the vertebral arteries of 160 embalmed cadavers bilaterally and reviewed 1,000 computed tomography angiograms of the neck, recording the level of entry into the transverse foramina.",
            ),
            (
                "RESULTS",
                "Entry at the sixth cervical vertebra was found in 93% of arteries. Entry at the fifth vertebra occurred in 4.6%, at the fourth in 0.9% and at the seventh in 1.2%. Variants were more frequent on the left side. Findings from dissection and angiography agreed closely.",
            ),
            (
                "CONCLUSIONS",
                "About one in twenty vertebral arteries enters the transverse foramina above the sixth cervical vertebra, and preoperative imaging should be reviewed for this variant.",
            ),
        ),
        mesh=(
            "Anatomic Variation*",
            "Cadaver",
            "Cervical Vertebrae/anatomy & histology*",
            "Computed Tomography Angiography",
            "Humans",
            "Vertebral Artery/anatomy & histology*",
        ),
    ),
    SampleCitation(
        pmid=90000058,
        title="The anterior cruciate ligament has two functional bundles that tighten at different knee angles.",
        journal="anat",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Whether the anterior cruciate ligament should be reconstructed as one or two bundles depends on how its fibres behave during knee motion.",
            ),
            (
                "OBJECTIVE",
                "To describe the length changes of the anteromedial and posterolateral bundles of the anterior cruciate ligament through the range of knee flexion.",
            ),
            (
                "METHODS",
                "Twenty fresh-frozen cadaveric knees were dissected, and the footprints of both bundles were marked. Bundle lengths were measured with a motion-tracking system from full extension to 120 degrees of flexion under simulated muscle loads.",
            ),
            (
                "RESULTS",
                "The anteromedial bundle lengthened by 9% from extension to 90 degrees of flexion, whereas the posterolateral bundle shortened by 14% over the same range. Internal rotation increased tension in the posterolateral bundle near extension.",
            ),
            (
                "CONCLUSIONS",
                "The two bundles of the anterior cruciate ligament tighten at different knee angles, which supports anatomical reconstruction that restores both.",
            ),
        ),
        mesh=(
            "Anterior Cruciate Ligament/anatomy & histology*",
            "Biomechanical Phenomena",
            "Cadaver",
            "Humans",
            "Knee Joint/anatomy & histology*",
            "Range of Motion, Articular",
        ),
    ),
    SampleCitation(
        pmid=90000059,
        title="Gestational diabetes delays maturation of placental chorionic villi.",
        journal="anat",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Placentas from pregnancies with diabetes are often large, and histological changes may contribute to fetal hypoxia late in pregnancy.",
            ),
            (
                "OBJECTIVE",
                "To determine whether gestational diabetes is associated with delayed villous maturation in term placentas and whether glycaemic control modifies the association.",
            ),
            (
                "METHODS",
                "Placentas from 150 women with gestational diabetes and 150 women with normal glucose tolerance, delivered at term, were examined by two pathologists blinded to diagnosis. Villous maturation was graded and vasculosyncytial membranes were counted.",
            ),
            (
                "RESULTS",
                "Delayed villous maturation was found in 29% of placentas from women with gestational diabetes and in 8% of controls. It was more frequent when mean glucose in the third trimester exceeded target, and was associated with a lower umbilical arterial pH.",
            ),
            (
                "CONCLUSIONS",
                "Gestational diabetes, particularly when poorly controlled, delays maturation of the chorionic villi, which may impair oxygen transfer to the fetus.",
            ),
        ),
        mesh=(
            "Chorionic Villi/pathology*",
            "Diabetes, Gestational/pathology*",
            "Female",
            "Humans",
            "Placenta/pathology*",
            "Pregnancy",
        ),
    ),
)

# An in-process record of file 2 (indexed later only in a future release).
BASELINE_2_SPECIAL: tuple[SampleCitation, ...] = (
    SampleCitation(
        pmid=90000062,
        title="Vitamin D supplementation does not prevent upper respiratory infections in healthy office workers.",
        journal="metab",
        year=2024,
        status="In-Process",
        abstract="Observational studies link low vitamin D concentrations with respiratory infections, but supplementation trials in adults have given conflicting results. To determine whether daily vitamin D3 prevents upper respiratory infections in healthy working adults, we randomly assigned 720 office workers to 2,000 IU of vitamin D3 or placebo daily during two winters. Participants reported symptoms weekly through a web diary, and episodes were confirmed with nasal swabs tested by multiplex PCR. Serum 25-hydroxyvitamin D rose from 48 to 92 nmol/L in the vitamin D group and was unchanged with placebo. The rate of confirmed upper respiratory infections was 1.21 episodes per person-winter with vitamin D and 1.25 with placebo, and days off work did not differ. Results were similar among participants with low baseline concentrations. Vitamin D supplementation does not prevent upper respiratory infections in healthy office workers, even in those with low vitamin D status.",
    ),
)

BOOK_CHAPTER = SampleBook(
    pmid=90000064,
    book_title="Handbook of Sample Clinical Pharmacology",
    chapter_title="Metformin",
    publisher="Mkailin Sample Press",
    publisher_location="Bethesda (MD)",
    year=2023,
    accession="NBK900001",
    abstract="Metformin is a biguanide used as first-line therapy for type 2 diabetes. It lowers blood glucose mainly by reducing hepatic glucose production and does not cause hypoglycaemia when used alone. This chapter reviews its indications, mechanism of action, dosing, contraindications and monitoring. Gastrointestinal symptoms are the most common adverse effects and can be reduced by gradual dose titration or extended-release formulations. Lactic acidosis is rare and occurs mainly in patients with severe renal impairment, hypoxia or sepsis, so the dose should be reduced when the estimated glomerular filtration rate falls below 45 mL/min and the drug stopped below 30 mL/min. Long-term use can lower vitamin B12 concentrations, and periodic measurement is advised. The chapter also summarises evidence for metformin in prediabetes, gestational diabetes and polycystic ovary syndrome, and outlines the responsibilities of the interprofessional team in educating patients and monitoring treatment.",
    authors=(("Hussain", "Amina"), ("Lindqvist", "Erik")),
)

# --------------------------------------------------------------------------------------------
# Update file (pubmed26n0003): three revisions, four new citations, then three deletions.
# --------------------------------------------------------------------------------------------
UPDATE_REVISED: tuple[SampleCitation, ...] = (
    # A new version of a baseline record: PMID Version="2" with corrected results.
    SampleCitation(
        pmid=90000010,
        version=2,
        title="Vancomycin trough concentrations above 15 mg/L increase the risk of acute kidney injury.",
        journal="micro",
        year=2020,
        abstract=(
            (
                "BACKGROUND",
                "Guidelines have recommended high vancomycin trough targets for serious staphylococcal infections, but such targets may harm the kidney.",
            ),
            (
                "OBJECTIVE",
                "To determine whether vancomycin trough concentrations above 15 mg/L are associated with acute kidney injury in hospitalised adults.",
            ),
            (
                "METHODS",
                "We reviewed 1,320 courses of intravenous vancomycin given for at least 72 hours in two hospitals. Acute kidney injury was defined by KDIGO creatinine criteria. Cox models adjusted for illness severity, concurrent nephrotoxins and baseline renal function. This version corrects the number of courses with high troughs after removal of duplicate records.",
            ),
            (
                "RESULTS",
                "Acute kidney injury occurred in 17% of courses with troughs above 15 mg/L and in 8% of courses with lower troughs (adjusted hazard ratio 1.9). The risk rose further with concurrent piperacillin-tazobactam. Most injuries resolved after discontinuation.",
            ),
            (
                "CONCLUSIONS",
                "High vancomycin trough concentrations nearly double the risk of acute kidney injury, supporting dosing guided by the area under the concentration curve instead of trough targets.",
            ),
        ),
        mesh=(
            "Acute Kidney Injury/chemically induced*",
            "Adult",
            "Anti-Bacterial Agents/adverse effects",
            "Drug Monitoring/methods",
            "Humans",
            "Retrospective Studies",
            "Vancomycin/adverse effects*",
        ),
        date_revised=(2025, 11, 3),
    ),
    # Same version, corrected abstract (an erratum to the results).
    SampleCitation(
        pmid=90000021,
        title="Computer-aided detection increases the adenoma detection rate during screening colonoscopy.",
        journal="onc",
        year=2022,
        abstract=(
            (
                "BACKGROUND",
                "Adenomas missed at colonoscopy contribute to interval colorectal cancers, and the adenoma detection rate varies widely between endoscopists.",
            ),
            (
                "OBJECTIVE",
                "To determine whether a real-time computer-aided detection system based on deep learning increases the adenoma detection rate in screening colonoscopy.",
            ),
            (
                "METHODS",
                "In four endoscopy units, 1,240 screening colonoscopies were randomly assigned to be performed with or without the detection system, which marks suspected polyps on the video monitor. All resected lesions were examined histologically.",
            ),
            (
                "RESULTS",
                "The adenoma detection rate was 37.9% with computer-aided detection and 29.7% without it. The gain came mostly from diminutive adenomas under 5 mm, and the number of advanced adenomas did not differ. Withdrawal time increased by 30 seconds, and sessile serrated lesions were detected slightly more often.",
            ),
            (
                "CONCLUSIONS",
                "Computer-aided detection increases the adenoma detection rate, mainly of small adenomas, and its effect on interval cancer remains to be established.",
            ),
        ),
        mesh=(
            "Adenoma/diagnosis*",
            "Artificial Intelligence*",
            "Colonoscopy/methods*",
            "Colorectal Neoplasms/diagnosis",
            "Deep Learning",
            "Humans",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
        date_revised=(2025, 10, 21),
    ),
    # Same version, now indexed: the in-process record of file 1 gains its MeSH headings.
    SampleCitation(
        pmid=90000061,
        title="Semaglutide lowers liver fat content in adults with metabolic dysfunction-associated steatotic liver disease.",
        journal="metab",
        year=2024,
        abstract=BASELINE_1_SPECIAL[0].abstract,
        mesh=(
            "Adult",
            "Glucagon-Like Peptide-1 Receptor/agonists*",
            "Humans",
            "Liver/diagnostic imaging",
            "Magnetic Resonance Imaging",
            "Non-alcoholic Fatty Liver Disease/drug therapy*",
            "Overweight/drug therapy",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
        date_revised=(2025, 12, 1),
    ),
)

UPDATE_NEW: tuple[SampleCitation, ...] = (
    SampleCitation(
        pmid=90000065,
        title="Seasonal malaria chemoprevention reduces clinical malaria in children in northern Uganda.",
        journal="trop",
        year=2025,
        abstract=(
            (
                "BACKGROUND",
                "Seasonal malaria chemoprevention is recommended in the Sahel, but its effectiveness in East African areas with seasonal transmission has been little studied.",
            ),
            (
                "OBJECTIVE",
                "To determine whether monthly sulfadoxine-pyrimethamine plus amodiaquine during the rainy season reduces clinical malaria in children under five years in northern Uganda.",
            ),
            (
                "METHODS",
                "Villages were randomised to receive four monthly rounds of chemoprevention delivered by community health workers or standard care. Clinical malaria was recorded by passive surveillance at health facilities.",
            ),
            (
                "RESULTS",
                "Among 4,100 children, the incidence of clinical malaria during the transmission season was 62% lower in intervention villages. Coverage exceeded 80% in each round. Molecular markers of resistance to sulfadoxine-pyrimethamine did not increase.",
            ),
            (
                "CONCLUSIONS",
                "Seasonal malaria chemoprevention is highly effective in northern Uganda and could be extended to other East African areas with seasonal transmission.",
            ),
        ),
        mesh=(
            "Antimalarials/administration & dosage*",
            "Chemoprevention*",
            "Child, Preschool",
            "Humans",
            "Infant",
            "Malaria, Falciparum/prevention & control*",
            "Seasons",
            "Uganda/epidemiology*",
        ),
    ),
    SampleCitation(
        pmid=90000066,
        title="Telephone-delivered behavioural activation reduces depression in housebound older adults.",
        journal="psych",
        year=2025,
        abstract=(
            (
                "BACKGROUND",
                "Housebound older adults have high rates of depression and limited access to psychological therapy.",
            ),
            (
                "OBJECTIVE",
                "To assess whether behavioural activation delivered by telephone reduces depressive symptoms in housebound adults aged 65 years or older.",
            ),
            (
                "METHODS",
                "Participants with a Geriatric Depression Scale score of 6 or more were randomised to eight weekly telephone sessions of behavioural activation with a trained lay counsellor or to usual care. The primary outcome was the depression score at four months.",
            ),
            (
                "RESULTS",
                "Among 260 participants, depressive symptoms decreased more with behavioural activation than with usual care (mean difference 2.4 points), and loneliness scores also improved. Benefits were maintained at one year, and three quarters of participants completed at least six of the eight sessions.",
            ),
            (
                "CONCLUSIONS",
                "Telephone-delivered behavioural activation by lay counsellors reduces depression in housebound older adults and can be delivered at scale.",
            ),
        ),
        mesh=(
            "Aged",
            "Behavior Therapy/methods*",
            "Depression/therapy*",
            "Homebound Persons/psychology*",
            "Humans",
            "Loneliness",
            "Telephone",
        ),
        publication_types=("Journal Article", "Randomized Controlled Trial"),
    ),
    SampleCitation(
        pmid=90000067,
        title="Base editing corrects the sickle mutation in haematopoietic stem cells without double-strand breaks.",
        journal="genet",
        year=2025,
        abstract=(
            (
                "BACKGROUND",
                "Nuclease-based editing strategies for sickle cell disease induce fetal haemoglobin but leave the sickle mutation in place and create double-strand breaks.",
            ),
            (
                "OBJECTIVE",
                "To determine whether an adenine base editor can convert the sickle allele into a non-pathogenic variant in patient haematopoietic stem cells.",
            ),
            (
                "METHODS",
                "CD34<sup>+</sup> cells from six patients were edited with an adenine base editor delivered as messenger RNA and transplanted into immunodeficient mice. Editing, haemoglobin variants and red cell sickling were measured 16 weeks later.",
            ),
            (
                "RESULTS",
                "The sickle allele was converted to the Makassar variant in 80% of alleles in cells recovered from mouse bone marrow. Sickle haemoglobin fell below 20% in derived red cells, and sickling under hypoxia was largely prevented. No large deletions were detected.",
            ),
            (
                "CONCLUSIONS",
                "Adenine base editing corrects the sickle mutation efficiently in haematopoietic stem cells without double-strand breaks.",
            ),
        ),
        mesh=(
            "Anemia, Sickle Cell/therapy*",
            "Animals",
            "Gene Editing/methods*",
            "Hematopoietic Stem Cells*",
            "Hemoglobin, Sickle/genetics*",
            "Humans",
            "Mice",
        ),
    ),
    SampleCitation(
        pmid=90000068,
        title="Community paramedic video visits reduce emergency transfers from remote island communities in Scotland.",
        journal="digital",
        year=2025,
        abstract=(
            (
                "BACKGROUND",
                "Emergency transfers from remote islands are costly and disruptive, and many patients could be treated locally with specialist advice.",
            ),
            (
                "OBJECTIVE",
                "To evaluate whether video consultations between community paramedics and emergency physicians reduce transfers from remote island communities.",
            ),
            (
                "METHODS",
                "In a stepped-wedge study in nine island communities, paramedics gained access to on-demand video consultation with emergency physicians. Transfers to the mainland and adverse outcomes within 30 days were compared between periods with and without the service.",
            ),
            (
                "RESULTS",
                "Among 2,860 emergency calls, the proportion resulting in transfer fell from 41% to 29% after introduction of video consultation. Unplanned returns and deaths within 30 days did not increase. Paramedics used the service for a median of 18 minutes per call, most often for falls, chest pain and breathing difficulty.",
            ),
            (
                "CONCLUSIONS",
                "Video consultation support for community paramedics safely reduces emergency transfers from remote islands in Scotland.",
            ),
        ),
        mesh=(
            "Allied Health Personnel",
            "Emergency Medical Services/organization & administration*",
            "Humans",
            "Patient Transfer*",
            "Remote Consultation*",
            "Rural Health Services",
            "Scotland*",
        ),
    ),
)

# Deleted in the update: one PMID of each baseline file and one never published in the sample.
UPDATE_DELETED_PMIDS: tuple[int, ...] = (90000012, 90000046, 90000999)


# MeSH 2024 descriptor UIs of every descriptor and publication type used above (NLM's vocabulary).
DESCRIPTOR_UIS: dict[str, str] = {
    "Accelerometry": "D061725",
    "Acute Kidney Injury": "D058186",
    "Adenoma": "D000236",
    "Adolescent": "D000293",
    "Adult": "D000328",
    "Advanced Practice Nursing": "D057179",
    "Aged": "D000368",
    "Aged, 80 and over": "D000369",
    "Agricultural Workers' Diseases": "D000382",
    "Agriculture": "D000383",
    "Algorithms": "D000465",
    "Allied Health Personnel": "D000488",
    "Alzheimer Disease": "D000544",
    "Ambulatory Care Facilities": "D000554",
    "AMP-Activated Protein Kinases": "D055372",
    "Amyloid beta-Peptides": "D016229",
    "Anatomic Variation": "D063405",
    "Anemia, Sickle Cell": "D000755",
    "Animals": "D000818",
    "Anopheles": "D000852",
    "Anterior Cruciate Ligament": "D016118",
    "Anti-Bacterial Agents": "D000900",
    "Antidepressive Agents": "D000928",
    "Antimalarials": "D000962",
    "Antimicrobial Stewardship": "D000073602",
    "Artemether, Lumefantrine Drug Combination": "D000077611",
    "Artificial Intelligence": "D001185",
    "Atrophy": "D001284",
    "Attitude of Health Personnel": "D001291",
    "Bacterial Proteins": "D001426",
    "Behavior Therapy": "D001521",
    "beta-Lactamases": "D001618",
    "Bifidobacterium": "D001644",
    "Biomarkers": "D015415",
    "Biomechanical Phenomena": "D001696",
    "Blood Glucose": "D001786",
    "Blood Pressure Monitoring, Ambulatory": "D018660",
    "Burnout, Professional": "D002055",
    "Cadaver": "D002102",
    "Cardiometabolic Risk Factors": "D000083202",
    "Carrier State": "D002353",
    "Catheterization, Central Venous": "D002405",
    "Cells, Cultured": "D002478",
    "Cervical Vertebrae": "D002574",
    "Cesarean Section": "D002585",
    "Chemoprevention": "D018890",
    "Chickens": "D002645",
    "Child": "D002648",
    "Child, Preschool": "D002675",
    "Cholinesterases": "D002802",
    "Chorionic Villi": "D002824",
    "Clinical Competence": "D002983",
    "Clinical Trials as Topic": "D002986",
    "Clostridioides difficile": "D016360",
    "Clostridium Infections": "D003015",
    "Cognitive Behavioral Therapy": "D015928",
    "Cognitive Dysfunction": "D060825",
    "Cohort Studies": "D015331",
    "Colon": "D003106",
    "Colonoscopy": "D003113",
    "Colorectal Neoplasms": "D015179",
    "Comment": "D016420",
    "Communication": "D003142",
    "Community Health Centers": "D003151",
    "Comprehension": "D032882",
    "Computed Tomography Angiography": "D000072226",
    "Computer Literacy": "D003197",
    "CRISPR-Cas Systems": "D064113",
    "Critical Care Nursing": "D064648",
    "Cross-Sectional Studies": "D003430",
    "Curriculum": "D003479",
    "Decision Support Systems, Clinical": "D020000",
    "Deep Learning": "D000077321",
    "Dementia": "D003704",
    "Dependovirus": "D000229",
    "Depression": "D003863",
    "Depressive Disorder, Major": "D003865",
    "Diabetes Mellitus, Type 2": "D003924",
    "Diabetes, Gestational": "D016640",
    "Diagnosis, Differential": "D003937",
    "Diet, Reducing": "D004038",
    "Dietary Fiber": "D004043",
    "Disease Progression": "D018450",
    "Drug Monitoring": "D016903",
    "Drug Resistance": "D004351",
    "Drug Resistance, Bacterial": "D024881",
    "Early Detection of Cancer": "D055088",
    "Education, Medical, Undergraduate": "D004504",
    "Education, Nursing": "D004506",
    "Electronic Health Records": "D057286",
    "Emergency Medical Services": "D004632",
    "Empathy": "D004645",
    "Enterobacteriaceae": "D004755",
    "Ethics, Medical": "D004992",
    "Ethics, Research": "D032984",
    "Executive Function": "D056344",
    "Exercise": "D015444",
    "Farmers": "D000067565",
    "Fatty Acids, Volatile": "D005232",
    "Fecal Microbiota Transplantation": "D000069467",
    "Feces": "D005243",
    "Female": "D005260",
    "Fetal Hemoglobin": "D005319",
    "Fitness Trackers": "D000072936",
    "Food Contamination": "D005506",
    "Food Handling": "D005511",
    "Food Microbiology": "D005516",
    "Food Storage": "D061353",
    "Formative Feedback": "D000068156",
    "Gastrointestinal Microbiome": "D000069196",
    "Gene Editing": "D000072669",
    "Gene Transfer, Horizontal": "D022761",
    "General Surgery": "D013502",
    "Genetic Therapy": "D015316",
    "Genetic Vectors": "D005822",
    "Genome, Human": "D015894",
    "Glucagon-Like Peptide-1 Receptor": "D000067757",
    "Gluconeogenesis": "D005943",
    "Health Literacy": "D057220",
    "Health Services Accessibility": "D006297",
    "Healthcare Disparities": "D054625",
    "Heart Failure": "D006333",
    "Hematopoietic Stem Cells": "D006412",
    "Hemoglobin, Sickle": "D006451",
    "Hepatocytes": "D022781",
    "Hippocampus": "D006624",
    "Historical Article": "D016456",
    "History, 20th Century": "D049673",
    "Homebound Persons": "D018577",
    "Hospital Mortality": "D017052",
    "Hospitals, Community": "D006764",
    "Hospitals, Teaching": "D006784",
    "Humans": "D006801",
    "Hypertension": "D006973",
    "Hypoglycemic Agents": "D007004",
    "Incidence": "D015994",
    "Independent Living": "D057187",
    "Infant": "D007223",
    "Infant, Newborn": "D007231",
    "Influenza Pandemic, 1918-1919": "D064149",
    "Informed Consent": "D007258",
    "Insecticide Resistance": "D007305",
    "Insecticide-Treated Bednets": "D057148",
    "Insecticides": "D007306",
    "Internet-Based Intervention": "D000079382",
    "Internship and Residency": "D007396",
    "Interrupted Time Series Analysis": "D065186",
    "Journal Article": "D016428",
    "Kenya": "D007630",
    "Knee Joint": "D007719",
    "Letter": "D016422",
    "Life Style": "D008019",
    "Listeria monocytogenes": "D008089",
    "Literature": "D008091",
    "Liver": "D008099",
    "Loneliness": "D008132",
    "Long-Term Potentiation": "D017774",
    "Machine Learning": "D000069550",
    "Magnetic Resonance Imaging": "D008279",
    "Malaria": "D008288",
    "Malaria, Falciparum": "D016778",
    "Male": "D008297",
    "Medicine in Literature": "D008513",
    "Metformin": "D008687",
    "Methicillin-Resistant Staphylococcus aureus": "D055624",
    "Mice": "D051379",
    "Mice, Knockout": "D018345",
    "Middle Aged": "D008875",
    "Mindfulness": "D064866",
    "Mobile Applications": "D063731",
    "Mosquito Vectors": "D000072138",
    "Mutation": "D009154",
    "Narrative Medicine": "D000073935",
    "Natural Language Processing": "D009323",
    "Neoplasms": "D009369",
    "Neuronal Plasticity": "D009473",
    "Newspapers as Topic": "D009524",
    "Non-alcoholic Fatty Liver Disease": "D065626",
    "Nose": "D009666",
    "Nurse Practitioners": "D009722",
    "Nurses": "D009726",
    "Nursing": "D009729",
    "Nursing Staff, Hospital": "D009741",
    "Occult Blood": "D009780",
    "Occupational Exposure": "D016273",
    "Overweight": "D050177",
    "Patient Acceptance of Health Care": "D010342",
    "Patient Education as Topic": "D010353",
    "Patient Readmission": "D010359",
    "Patient Transfer": "D010360",
    "Peer Group": "D010379",
    "Personnel Staffing and Scheduling": "D010561",
    "Personnel, Hospital": "D010564",
    "Pesticide Residues": "D010573",
    "Pesticides": "D010575",
    "Physicians": "D010820",
    "Placenta": "D010920",
    "Plasmids": "D010957",
    "Plasmodium falciparum": "D010963",
    "Pneumothorax": "D011030",
    "Postoperative Complications": "D011183",
    "Poultry Products": "D011202",
    "Poverty": "D011203",
    "Prediabetic State": "D011236",
    "Pregnancy": "D011247",
    "Prevalence": "D015995",
    "Primary Health Care": "D011320",
    "Problem-Based Learning": "D018794",
    "Prospective Studies": "D011446",
    "Proton Pump Inhibitors": "D054328",
    "Protozoan Proteins": "D015800",
    "Public Health": "D011634",
    "Pyrethrins": "D011722",
    "Radiographic Image Interpretation, Computer-Assisted": "D011857",
    "Radiography, Thoracic": "D013902",
    "Randomized Controlled Trial": "D016449",
    "Range of Motion, Articular": "D016059",
    "Recurrence": "D012008",
    "Refrigeration": "D012034",
    "Remote Consultation": "D019114",
    "Research Subjects": "D035842",
    "Retinitis Pigmentosa": "D012174",
    "Retrospective Studies": "D012189",
    "Review": "D016454",
    "ROC Curve": "D012372",
    "Rural Health Services": "D019035",
    "Rural Population": "D012424",
    "Salmonella": "D012475",
    "Scotland": "D012606",
    "Seasons": "D012621",
    "Sedentary Behavior": "D057185",
    "Sepsis": "D018805",
    "Simulation Training": "D000066908",
    "Staphylococcal Infections": "D013203",
    "Stress, Psychological": "D013315",
    "Students": "D013334",
    "Students, Medical": "D013337",
    "Students, Nursing": "D013338",
    "Suicide, Assisted": "D017236",
    "Surveys and Questionnaires": "D011795",
    "Synapses": "D013569",
    "tau Proteins": "D016875",
    "Telemedicine": "D017216",
    "Telephone": "D013689",
    "Temperature": "D013696",
    "Travel": "D014195",
    "Treatment Outcome": "D016896",
    "Tumor Necrosis Factor-alpha": "D014409",
    "Uganda": "D014454",
    "Universities": "D014495",
    "Vancomycin": "D014640",
    "Vegetables": "D014675",
    "Vertebral Artery": "D014711",
    "Vitamin B 12 Deficiency": "D014806",
    "Walkers": "D014853",
    "Walking": "D016138",
    "Wastewater": "D062065",
    "Wearable Electronic Devices": "D000076251",
    "Whole Genome Sequencing": "D000073336",
    "Withholding Treatment": "D028761",
    "Work Schedule Tolerance": "D014940",
    "Workload": "D016526",
    "Young Adult": "D055815",
}

# MeSH qualifier UIs of the qualifiers used above (NLM's vocabulary).
QUALIFIER_UIS: dict[str, str] = {
    "administration & dosage": "Q000008",
    "adverse effects": "Q000009",
    "agonists": "Q000819",
    "analysis": "Q000032",
    "anatomy & histology": "Q000033",
    "biosynthesis": "Q000096",
    "blood": "Q000097",
    "chemically induced": "Q000139",
    "chemistry": "Q000737",
    "diagnosis": "Q000175",
    "diagnostic imaging": "Q000000981",
    "drug effects": "Q000187",
    "drug therapy": "Q000188",
    "education": "Q000193",
    "epidemiology": "Q000453",
    "ethics": "Q000941",
    "genetics": "Q000235",
    "growth & development": "Q000254",
    "history": "Q000266",
    "instrumentation": "Q000295",
    "isolation & purification": "Q000302",
    "metabolism": "Q000378",
    "methods": "Q000379",
    "microbiology": "Q000382",
    "organization & administration": "Q000458",
    "parasitology": "Q000469",
    "pathology": "Q000473",
    "pharmacology": "Q000494",
    "prevention & control": "Q000517",
    "psychology": "Q000523",
    "statistics & numerical data": "Q000706",
    "supply & distribution": "Q000600",
    "therapeutic use": "Q000627",
    "therapy": "Q000628",
    "toxicity": "Q000633",
}

# Geographic descriptors: NLM marks their headings with Type="Geographic".
GEOGRAPHIC_DESCRIPTORS: frozenset[str] = frozenset({"Kenya", "Scotland", "Uganda"})
