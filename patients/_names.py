"""Name, street and place lists the generator draws from (a diverse, US-style population)."""

from __future__ import annotations

FEMALE_GIVEN = (
    "Mary Patricia Jennifer Linda Elizabeth Barbara Susan Jessica Sarah Karen Nancy Lisa "
    "Margaret Betty Sandra Ashley Dorothy Kimberly Emily Donna Michelle Carol Amanda Melissa "
    "Deborah Stephanie Rebecca Laura Sharon Cynthia Kathleen Amy Shirley Angela Helen Anna "
    "Brenda Pamela Nicole Ruth Katherine Samantha Christine Emma Catherine Debra Virginia "
    "Rachel Carolyn Janet Maria Heather Diane Julie Joyce Victoria Kelly Christina Joan "
    "Evelyn Lauren Judith Olivia Martha Cheryl Megan Andrea Hannah Jacqueline Ann Jean "
    "Alice Kathryn Gloria Teresa Doris Sara Janice Julia Marie Madison Grace Judy Theresa "
    "Beverly Denise Marilyn Amber Danielle Abigail Brittany Rose Diana Natalie Sophia "
    "Guadalupe Rosa Carmen Ana Lucia Sofia Valentina Ximena Fernanda Alejandra Adriana "
    "Yesenia Mei Ling Xiu Hui Jing Yan Wei Na Thi Linh Huong Mai Trang Priya Ananya Divya "
    "Lakshmi Sunita Kavya Aaliyah Imani Ebony Keisha Latoya Shanice Jasmine Fatima Aisha "
    "Layla Noor Yasmin Mariam Hana Yuki Aiko Sakura Min-ji Seo-yeon Ji-woo Olga Irina "
    "Svetlana Katarzyna Agnieszka Ingrid Astrid Chiara Giulia Francesca Siobhan Niamh "
    "Maribel Consuelo Leilani Malia Nkechi Amara Chioma Zainab Esperanza Marisol"
).split()
FEMALE_GIVEN = tuple(dict.fromkeys(FEMALE_GIVEN))

MALE_GIVEN = (
    "James Robert John Michael David William Richard Joseph Thomas Charles Christopher "
    "Daniel Matthew Anthony Mark Donald Steven Paul Andrew Joshua Kenneth Kevin Brian "
    "George Timothy Ronald Edward Jason Jeffrey Ryan Jacob Gary Nicholas Eric Jonathan "
    "Stephen Larry Justin Scott Brandon Benjamin Samuel Gregory Alexander Frank Patrick "
    "Raymond Jack Dennis Jerry Tyler Aaron Jose Adam Nathan Henry Douglas Zachary Peter "
    "Kyle Ethan Walter Noah Jeremy Christian Keith Roger Terry Gerald Harold Sean Austin "
    "Carl Arthur Lawrence Dylan Jesse Jordan Bryan Billy Joe Bruce Gabriel Logan Albert "
    "Willie Alan Juan Wayne Elijah Randy Roy Vincent Ralph Eugene Russell Bobby Mason "
    "Carlos Luis Miguel Jorge Alejandro Diego Javier Rafael Ricardo Eduardo Fernando "
    "Santiago Mateo Wei Jian Hao Jun Ming Lei Tuan Minh Duc Hung Quang Raj Arjun Vikram "
    "Rahul Sanjay Amit Rohan Darnell Jamal Tyrone DeShawn Malik Terrell Andre Omar Ahmed "
    "Mohammed Ali Hassan Yusuf Karim Hiroshi Takeshi Kenji Haruto Min-jun Ji-ho Seung-woo "
    "Dmitri Sergei Ivan Piotr Tomasz Lars Anders Giovanni Marco Luca Sean Liam Declan "
    "Kwame Kofi Chinedu Emeka Oluwaseun Tariq Kalani Keoni Mateus Joao"
).split()
MALE_GIVEN = tuple(dict.fromkeys(MALE_GIVEN))

FAMILY = (
    "Smith Johnson Williams Brown Jones Miller Davis Wilson Anderson Taylor Thomas Moore "
    "Martin Jackson Thompson White Harris Clark Lewis Robinson Walker Young Allen King "
    "Wright Scott Hill Green Adams Baker Nelson Carter Mitchell Roberts Turner Phillips "
    "Campbell Parker Evans Edwards Collins Stewart Morris Rogers Reed Cook Morgan Bell "
    "Murphy Bailey Cooper Richardson Cox Howard Ward Peterson Gray James Watson Brooks "
    "Kelly Sanders Price Bennett Wood Barnes Ross Henderson Coleman Jenkins Perry Powell "
    "Long Patterson Hughes Washington Butler Simmons Foster Bryant Alexander Russell "
    "Griffin Hayes Myers Ford Hamilton Graham Sullivan Wallace West Cole Jordan Reynolds "
    "Garcia Rodriguez Martinez Hernandez Lopez Gonzalez Perez Sanchez Ramirez Torres "
    "Flores Rivera Gomez Diaz Cruz Morales Reyes Gutierrez Ortiz Ramos Castillo Mendoza "
    "Vargas Romero Herrera Medina Aguilar Vasquez Jimenez Delgado Castro Navarro Salazar "
    "Nguyen Tran Le Pham Hoang Phan Vu Dang Bui Do Wang Li Zhang Liu Chen Yang Huang Zhao "
    "Wu Zhou Xu Sun Ma Zhu Lin Kim Lee Park Choi Jung Kang Cho Yoon Jang Tanaka Suzuki "
    "Takahashi Watanabe Yamamoto Nakamura Kobayashi Sato Patel Shah Singh Kumar Sharma "
    "Gupta Reddy Iyer Nair Desai Mehta Rao Khan Ahmed Hussain Rahman Hassan Haddad Nasser "
    "Okafor Okonkwo Adeyemi Mensah Owusu Nkemelu Abara Kowalski Nowak Wisniewski Ivanov "
    "Petrov Smirnov Novak Horvat Rossi Russo Ferrari Esposito Bianchi Romano Murray "
    "OConnor Byrne Gallagher Doyle Kelleher Schmidt Schneider Fischer Weber Meyer Wagner "
    "Becker Hoffmann Larsen Hansen Johansson Lindqvist Dubois Moreau Laurent Santos "
    "Oliveira Silva Pereira Costa Ferreira Kahale Makoa Begay Yazzie Tsosie"
).split()
FAMILY = tuple(dict.fromkeys(FAMILY))

STREETS = tuple(
    s.strip()
    for s in (
        "Main St|Oak Ave|Maple Dr|Cedar Ln|Pine St|Elm St|Washington Ave|Lake Rd|Hill St|"
        "Park Ave|Sunset Blvd|Lincoln Way|Jefferson St|Mission St|Alameda de las Pulgas|"
        "Willow Rd|University Ave|El Camino Real|Middlefield Rd|Bayshore Rd|Valley View Dr|"
        "Madrone Ct|Sequoia Ave|Redwood Blvd|Ocean View Dr|Cherry Ln|Magnolia St|Birch Ct|"
        "Spruce St|Laurel St|Walnut Ave|Chestnut St|Orchard Rd|Meadow Ln|Ridge Rd"
    ).split("|")
)

# (city, state, ZIP prefix of three digits)
CITIES = (
    ("Palo Alto", "CA", "943"), ("Menlo Park", "CA", "940"), ("Redwood City", "CA", "940"),
    ("San Jose", "CA", "951"), ("Mountain View", "CA", "940"), ("Sunnyvale", "CA", "940"),
    ("Fremont", "CA", "945"), ("Oakland", "CA", "946"), ("San Francisco", "CA", "941"),
    ("San Mateo", "CA", "944"), ("Santa Clara", "CA", "950"), ("Daly City", "CA", "940"),
    ("Hayward", "CA", "945"), ("Cupertino", "CA", "950"), ("Milpitas", "CA", "950"),
    ("East Palo Alto", "CA", "943"), ("Gilroy", "CA", "950"), ("Salinas", "CA", "939"),
    ("Stockton", "CA", "952"), ("Sacramento", "CA", "958"), ("Reno", "NV", "895"),
    ("Portland", "OR", "972"), ("Phoenix", "AZ", "850"), ("Seattle", "WA", "981"),
)
AREA_CODES = ("650", "408", "415", "510", "669", "925", "831", "209", "916")
