"""Terminology tables: local lab codes with LOINC, vital signs, SNOMED CT / ICD-10-CM
conditions, SNOMED CT procedures and RxNorm medications used by the generator."""

from __future__ import annotations

from typing import NamedTuple

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
UCUM = "http://unitsofmeasure.org"
LOCAL_LAB = "urn:medagent:lab"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"


class Lab(NamedTuple):
    loinc: str
    name: str
    loinc_display: str
    unit: str  # UCUM code
    unit_display: str
    decimals: int
    low: float
    high: float


# Local code -> definition. The first twelve are the contract (docs/architecture.md).
LABS: dict[str, Lab] = {
    "MG": Lab("19123-9", "Magnesium", "Magnesium [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 1, 1.6, 2.6),
    "GLU": Lab("2345-7", "Glucose", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0, 70, 99),
    "K": Lab("2823-3", "Potassium", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 1, 3.5, 5.1),
    "A1C": Lab("4548-4", "Hemoglobin A1c", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", "%", 1, 4.0, 5.6),
    "CR": Lab("2160-0", "Creatinine", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 2, 0.6, 1.3),
    "NA": Lab("2951-2", "Sodium", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 0, 136, 145),
    "BUN": Lab("3094-0", "Urea nitrogen", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 0, 7, 20),
    "TBIL": Lab("1975-2", "Bilirubin, total", "Bilirubin.total [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 1, 0.1, 1.2),
    "INR": Lab("6301-6", "INR", "INR in Platelet poor plasma by Coagulation assay", "{INR}", "INR", 1, 0.9, 1.1),
    "HGB": Lab("718-7", "Hemoglobin", "Hemoglobin [Mass/volume] in Blood", "g/dL", "g/dL", 1, 12.0, 17.5),
    "WBC": Lab("6690-2", "Leukocytes", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 1, 4.0, 11.0),
    "PLT": Lab("777-3", "Platelets", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", "10*3/uL", 0, 150, 400),
    "CL": Lab("2075-0", "Chloride", "Chloride [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 0, 98, 107),
    "CO2": Lab("2028-9", "Carbon dioxide, total", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", "mmol/L", 0, 22, 29),
    "CA": Lab("17861-6", "Calcium", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 1, 8.6, 10.3),
    "ALT": Lab("1742-6", "Alanine aminotransferase", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 0, 7, 56),
    "AST": Lab("1920-8", "Aspartate aminotransferase", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", "U/L", 0, 10, 40),
    "ALB": Lab("1751-7", "Albumin", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", "g/dL", 1, 3.5, 5.0),
    "HCT": Lab("4544-3", "Hematocrit", "Hematocrit [Volume Fraction] of Blood by Automated count", "%", "%", 1, 36.0, 50.0),
    "PHOS": Lab("2777-1", "Phosphate", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL", "mg/dL", 1, 2.5, 4.5),
}

BMP = ("NA", "K", "CL", "CO2", "BUN", "CR", "GLU", "CA")
CBC = ("WBC", "HGB", "HCT", "PLT")
LFT = ("TBIL", "ALT", "AST", "ALB")


class Vital(NamedTuple):
    loinc: str
    display: str
    unit: str
    decimals: int


VITALS: dict[str, Vital] = {
    "HR": Vital("8867-4", "Heart rate", "/min", 0),
    "RR": Vital("9279-1", "Respiratory rate", "/min", 0),
    "TEMP": Vital("8310-5", "Body temperature", "Cel", 1),
    "SPO2": Vital("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%", 0),
    "WT": Vital("29463-7", "Body weight", "kg", 1),
    "HT": Vital("8302-2", "Body height", "cm", 1),
    "BMI": Vital("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2", 1),
}
BP_PANEL = ("85354-9", "Blood pressure panel with all children optional")
BP_SYS = ("8480-6", "Systolic blood pressure")
BP_DIA = ("8462-4", "Diastolic blood pressure")


class Dx(NamedTuple):
    snomed: str
    snomed_display: str
    icd10: str
    icd10_display: str


CHRONIC: dict[str, Dx] = {
    "hypertension": Dx("38341003", "Hypertensive disorder, systemic arterial", "I10", "Essential (primary) hypertension"),
    "diabetes": Dx("44054006", "Diabetes mellitus type 2", "E11.9", "Type 2 diabetes mellitus without complications"),
    "ckd": Dx("709044004", "Chronic kidney disease", "N18.9", "Chronic kidney disease, unspecified"),
    "hyperlipidemia": Dx("55822004", "Hyperlipidemia", "E78.5", "Hyperlipidemia, unspecified"),
    "heart_failure": Dx("84114007", "Heart failure", "I50.9", "Heart failure, unspecified"),
    "afib": Dx("49436004", "Atrial fibrillation", "I48.91", "Unspecified atrial fibrillation"),
    "copd": Dx("13645005", "Chronic obstructive lung disease", "J44.9", "Chronic obstructive pulmonary disease, unspecified"),
    "cad": Dx("53741008", "Coronary arteriosclerosis", "I25.10", "Atherosclerotic heart disease of native coronary artery without angina pectoris"),
    "hypothyroidism": Dx("40930008", "Hypothyroidism", "E03.9", "Hypothyroidism, unspecified"),
    "obesity": Dx("414916001", "Obesity", "E66.9", "Obesity, unspecified"),
    "depression": Dx("35489007", "Depressive disorder", "F32.9", "Major depressive disorder, single episode, unspecified"),
    "asthma": Dx("195967001", "Asthma", "J45.909", "Unspecified asthma, uncomplicated"),
    "cirrhosis": Dx("19943007", "Cirrhosis of liver", "K74.60", "Unspecified cirrhosis of liver"),
    "osteoarthritis": Dx("396275006", "Osteoarthritis", "M19.90", "Unspecified osteoarthritis, unspecified site"),
    "gerd": Dx("235595009", "Gastroesophageal reflux disease", "K21.9", "Gastro-esophageal reflux disease without esophagitis"),
}

# (condition key, base prevalence, extra prevalence per decade of age above 40)
CHRONIC_PREVALENCE = (
    ("hypertension", 0.15, 0.12), ("diabetes", 0.12, 0.04), ("ckd", 0.05, 0.04),
    ("hyperlipidemia", 0.15, 0.08), ("heart_failure", 0.02, 0.03), ("afib", 0.01, 0.03),
    ("copd", 0.04, 0.02), ("cad", 0.03, 0.04), ("hypothyroidism", 0.08, 0.01),
    ("obesity", 0.30, 0.0), ("depression", 0.18, 0.0), ("asthma", 0.08, 0.0),
    ("cirrhosis", 0.03, 0.0), ("osteoarthritis", 0.05, 0.06), ("gerd", 0.15, 0.01),
)

ACUTE_INPATIENT: dict[str, Dx] = {
    "pneumonia": Dx("233604007", "Pneumonia", "J18.9", "Pneumonia, unspecified organism"),
    "sepsis": Dx("91302008", "Sepsis", "A41.9", "Sepsis, unspecified organism"),
    "uti": Dx("68566005", "Urinary tract infectious disease", "N39.0", "Urinary tract infection, site not specified"),
    "aki": Dx("14669001", "Acute renal failure syndrome", "N17.9", "Acute kidney failure, unspecified"),
    "cellulitis": Dx("128045006", "Cellulitis", "L03.90", "Cellulitis, unspecified"),
    "chest_pain": Dx("29857009", "Chest pain", "R07.9", "Chest pain, unspecified"),
    "syncope": Dx("271594007", "Syncope", "R55", "Syncope and collapse"),
    "gi_bleed": Dx("74474003", "Gastrointestinal hemorrhage", "K92.2", "Gastrointestinal hemorrhage, unspecified"),
    "dvt": Dx("128053003", "Deep venous thrombosis", "I82.409", "Acute embolism and thrombosis of unspecified deep veins of unspecified lower extremity"),
    "dehydration": Dx("34095006", "Dehydration", "E86.0", "Dehydration"),
    "copd_exacerbation": Dx("195951007", "Acute exacerbation of chronic obstructive airways disease", "J44.1", "Chronic obstructive pulmonary disease with (acute) exacerbation"),
}
ACUTE_SECONDARY: dict[str, Dx] = {
    "hypokalemia": Dx("43339004", "Hypokalemia", "E87.6", "Hypokalemia"),
    "hypomagnesemia": Dx("190855004", "Hypomagnesemia", "E83.42", "Hypomagnesemia"),
    "hyperglycemia": Dx("80394007", "Hyperglycemia", "R73.9", "Hyperglycemia, unspecified"),
    "anemia": Dx("271737000", "Anemia", "D64.9", "Anemia, unspecified"),
    "hyponatremia": Dx("89627008", "Hyponatremia", "E87.1", "Hypo-osmolality and hyponatremia"),
    "delirium": Dx("2776000", "Delirium", "R41.0", "Disorientation, unspecified"),
}
ACUTE_OUTPATIENT: dict[str, Dx] = {
    "uri": Dx("54150009", "Upper respiratory infection", "J06.9", "Acute upper respiratory infection, unspecified"),
    "back_pain": Dx("161891005", "Backache", "M54.9", "Dorsalgia, unspecified"),
    "headache": Dx("25064002", "Headache", "R51.9", "Headache, unspecified"),
    "knee_pain": Dx("30989003", "Knee pain", "M25.569", "Pain in unspecified knee"),
    "fatigue": Dx("84229001", "Fatigue", "R53.83", "Other fatigue"),
    "dizziness": Dx("404640003", "Dizziness", "R42", "Dizziness and giddiness"),
    "rash": Dx("271807003", "Eruption of skin", "R21", "Rash and other nonspecific skin eruption"),
    "insomnia": Dx("193462001", "Insomnia", "G47.00", "Insomnia, unspecified"),
}

# SNOMED CT procedures: (code, display)
PROC_VENIPUNCTURE = ("28520004", "Venipuncture for blood test")
PROC_INPATIENT_DAILY = (
    ("61746007", "Taking patient vital signs"), ("225399009", "Pain assessment"),
    ("18629005", "Administration of drug or medicament"), ("252465000", "Pulse oximetry"),
    ("46973005", "Blood pressure taking"), ("5880005", "Physical examination"),
    ("182836005", "Review of medication"), ("225358003", "Wound care"),
    ("91251008", "Physical therapy procedure"), ("710824005", "Assessment of health and social care needs"),
    ("409073007", "Education"), ("386053000", "Evaluation procedure"),
)
PROC_INPATIENT_ONCE = (
    ("29303009", "Electrocardiographic procedure"), ("399208008", "Plain chest X-ray"),
    ("40701008", "Echocardiography"), ("77477000", "Computerized axial tomography"),
    ("16310003", "Ultrasonography"), ("303653007", "Computed tomography of head"),
    ("116859006", "Transfusion of blood product"), ("315639002", "Initial patient assessment"),
    ("430193006", "Medication reconciliation"),
)
PROC_OUTPATIENT = (
    ("5880005", "Physical examination"), ("46973005", "Blood pressure taking"),
    ("182836005", "Review of medication"), ("171207006", "Depression screening"),
    ("33879002", "Administration of vaccine to produce active immunity"),
    ("29303009", "Electrocardiographic procedure"), ("127783003", "Spirometry"),
    ("73761001", "Colonoscopy"), ("113091000", "Magnetic resonance imaging"),
    ("430193006", "Medication reconciliation"),
)
PROC_DIALYSIS = ("265764009", "Renal dialysis")


class Med(NamedTuple):
    rxnorm: str
    display: str
    dose: float
    dose_unit: str  # UCUM
    route: str  # key of ROUTES
    frequency: int  # times per day
    text: str


ROUTES = {
    "oral": ("26643006", "Oral route"),
    "iv": ("47625008", "Intravenous route"),
    "sc": ("34206005", "Subcutaneous route"),
    "inhaled": ("447694001", "Respiratory tract route"),
}

MEDS: dict[str, Med] = {
    "metformin": Med("861007", "metformin hydrochloride 500 MG Oral Tablet", 500, "mg", "oral", 2, "Take 500 mg by mouth twice daily with meals"),
    "insulin_glargine": Med("261551", "insulin glargine 100 UNT/ML Injectable Solution", 20, "[iU]", "sc", 1, "Inject 20 units under the skin at bedtime"),
    "lisinopril": Med("314076", "lisinopril 10 MG Oral Tablet", 10, "mg", "oral", 1, "Take 10 mg by mouth once daily"),
    "amlodipine": Med("197361", "amlodipine 5 MG Oral Tablet", 5, "mg", "oral", 1, "Take 5 mg by mouth once daily"),
    "hydrochlorothiazide": Med("310798", "hydrochlorothiazide 25 MG Oral Tablet", 25, "mg", "oral", 1, "Take 25 mg by mouth once daily"),
    "atorvastatin": Med("617310", "atorvastatin 20 MG Oral Tablet", 20, "mg", "oral", 1, "Take 20 mg by mouth at bedtime"),
    "furosemide": Med("313988", "furosemide 40 MG Oral Tablet", 40, "mg", "oral", 1, "Take 40 mg by mouth every morning"),
    "spironolactone": Med("313096", "spironolactone 25 MG Oral Tablet", 25, "mg", "oral", 1, "Take 25 mg by mouth once daily"),
    "metoprolol": Med("866924", "metoprolol tartrate 25 MG Oral Tablet", 25, "mg", "oral", 2, "Take 25 mg by mouth twice daily"),
    "apixaban": Med("1364445", "apixaban 5 MG Oral Tablet", 5, "mg", "oral", 2, "Take 5 mg by mouth twice daily"),
    "warfarin": Med("855332", "warfarin sodium 5 MG Oral Tablet", 5, "mg", "oral", 1, "Take 5 mg by mouth daily as directed by INR"),
    "levothyroxine": Med("966222", "levothyroxine sodium 0.05 MG Oral Tablet", 50, "ug", "oral", 1, "Take 50 mcg by mouth every morning before breakfast"),
    "albuterol": Med("745679", "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler", 2, "{puff}", "inhaled", 4, "Inhale 2 puffs every 6 hours as needed"),
    "sertraline": Med("312940", "sertraline 50 MG Oral Tablet", 50, "mg", "oral", 1, "Take 50 mg by mouth once daily"),
    "pantoprazole": Med("314200", "pantoprazole 40 MG Delayed Release Oral Tablet", 40, "mg", "oral", 1, "Take 40 mg by mouth before breakfast"),
    "acetaminophen": Med("313782", "acetaminophen 325 MG Oral Tablet", 650, "mg", "oral", 4, "Take 650 mg by mouth every 6 hours as needed for pain"),
    "gabapentin": Med("310431", "gabapentin 300 MG Oral Capsule", 300, "mg", "oral", 3, "Take 300 mg by mouth three times daily"),
    "potassium_chloride": Med("628958", "potassium chloride 20 MEQ Extended Release Oral Tablet", 20, "meq", "oral", 1, "Take 20 mEq by mouth once daily"),
    "enoxaparin": Med("854235", "enoxaparin sodium 40 MG in 0.4 ML Prefilled Syringe", 40, "mg", "sc", 1, "Inject 40 mg under the skin once daily"),
    "ceftriaxone": Med("1665021", "ceftriaxone 1000 MG Injection", 1000, "mg", "iv", 1, "Give 1 g intravenously every 24 hours"),
    "ondansetron": Med("104894", "ondansetron 4 MG Disintegrating Oral Tablet", 4, "mg", "oral", 3, "Take 4 mg by mouth every 8 hours as needed for nausea"),
    "sodium_chloride": Med("313002", "sodium chloride 9 MG/ML Injectable Solution", 1000, "mL", "iv", 1, "Infuse 1000 mL intravenously over 8 hours"),
    "oxycodone": Med("1049621", "oxycodone hydrochloride 5 MG Oral Tablet", 5, "mg", "oral", 4, "Take 5 mg by mouth every 6 hours as needed for severe pain"),
}

# Chronic condition -> medications it is usually treated with (first ones more likely).
TREATMENT = {
    "hypertension": ("lisinopril", "amlodipine", "hydrochlorothiazide"),
    "diabetes": ("metformin", "insulin_glargine"),
    "hyperlipidemia": ("atorvastatin",),
    "cad": ("atorvastatin", "metoprolol"),
    "heart_failure": ("furosemide", "metoprolol", "spironolactone"),
    "afib": ("apixaban", "metoprolol", "warfarin"),
    "hypothyroidism": ("levothyroxine",),
    "copd": ("albuterol",),
    "asthma": ("albuterol",),
    "depression": ("sertraline",),
    "gerd": ("pantoprazole",),
    "osteoarthritis": ("acetaminophen", "gabapentin"),
    "ckd": ("furosemide",),
}
INPATIENT_MEDS = ("enoxaparin", "acetaminophen", "ondansetron", "sodium_chloride", "oxycodone", "ceftriaxone")
DIURETICS = frozenset({"furosemide", "hydrochlorothiazide"})
