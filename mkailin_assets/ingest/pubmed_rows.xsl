<?xml version="1.0" encoding="UTF-8"?>
<!--
  PubmedArticle records of one chunk as tab-separated rows, in C (libxslt) instead of a Python
  walk over every element. pubmed_rows.py reads the text with Arrow's CSV reader and the loader
  assembles citations from the rows in SQL.

  Every row has the same 9 fields: kind, record position, then up to 7 values (empty when absent).
  Text values go through normalize-space() after Unicode spaces are mapped to U+0020, which is
  what the Python reference parser's " ".join(text.split()) does, so no value holds a tab or a
  line break and the rows need no quoting.

    C  pos  pmid  version  status  title  journal  year  medline_date
    X  pos  doi(ArticleIdList)  doi(ELocationID)  revised_year  revised_month  revised_day
    S  pos  section#  label  nlm_category  text
    L  pos  language#  language
    P  pos  type#  publication_type
    K  pos  keyword#  keyword
    M  pos  heading#  descriptor_ui  name  major(Y/N)  1
    Q  pos  heading#  qualifier_ui  name  major(Y/N)  qualifier#+1
  Records that are not PubmedArticle (books, DeleteCitation) and PubmedArticles without a
  MedlineCitation are left to the Python parser (see pubmed_rows.py).
-->
<xsl:stylesheet version="1.0" xmlns:xsl="http://www.w3.org/1999/XSL/Transform">
  <xsl:output method="text" encoding="UTF-8"/>

  <!-- Python's str.split() also splits on these (the XML-legal ones of str.isspace()). -->
  <xsl:variable name="unicode_spaces"
    select="'&#x85;&#xA0;&#x1680;&#x2000;&#x2001;&#x2002;&#x2003;&#x2004;&#x2005;&#x2006;&#x2007;&#x2008;&#x2009;&#x200A;&#x2028;&#x2029;&#x202F;&#x205F;&#x3000;'"/>
  <xsl:variable name="ascii_spaces" select="'                   '"/>
  <xsl:variable name="T" select="'&#9;'"/>
  <xsl:variable name="N" select="'&#10;'"/>

  <xsl:template name="text">
    <xsl:param name="of"/>
    <xsl:value-of select="normalize-space(translate($of, $unicode_spaces, $ascii_spaces))"/>
  </xsl:template>

  <xsl:template match="/">
    <xsl:for-each select="/*/*">
      <xsl:if test="self::PubmedArticle and MedlineCitation">
        <xsl:call-template name="article">
          <xsl:with-param name="pos" select="position()"/>
        </xsl:call-template>
      </xsl:if>
    </xsl:for-each>
  </xsl:template>

  <xsl:template name="article">
    <xsl:param name="pos"/>
    <xsl:variable name="citation" select="MedlineCitation"/>
    <xsl:variable name="article" select="$citation/Article"/>
    <xsl:variable name="pub_date" select="$article/Journal/JournalIssue/PubDate"/>
    <xsl:variable name="revised" select="$citation/DateRevised"/>

    <xsl:value-of select="concat('C', $T, $pos, $T)"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$citation/PMID"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$citation/PMID/@Version"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$citation/@Status"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$article/ArticleTitle"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$article/Journal/Title"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$pub_date/Year"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$pub_date/MedlineDate"/></xsl:call-template>
    <xsl:value-of select="$N"/>

    <xsl:value-of select="concat('X', $T, $pos, $T)"/>
    <xsl:call-template name="text">
      <xsl:with-param name="of" select="PubmedData/ArticleIdList/ArticleId[@IdType = 'doi' and normalize-space(.)][1]"/>
    </xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text">
      <xsl:with-param name="of" select="$article/ELocationID[@EIdType = 'doi' and normalize-space(.)][1]"/>
    </xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$revised/Year"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$revised/Month"/></xsl:call-template>
    <xsl:value-of select="$T"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="$revised/Day"/></xsl:call-template>
    <xsl:value-of select="concat($T, $T, $N)"/>

    <xsl:for-each select="$article/Abstract/AbstractText">
      <xsl:value-of select="concat('S', $T, $pos, $T, position(), $T)"/>
      <xsl:call-template name="text"><xsl:with-param name="of" select="@Label"/></xsl:call-template>
      <xsl:value-of select="$T"/>
      <xsl:call-template name="text"><xsl:with-param name="of" select="@NlmCategory"/></xsl:call-template>
      <xsl:value-of select="$T"/>
      <xsl:call-template name="text"><xsl:with-param name="of" select="."/></xsl:call-template>
      <xsl:value-of select="concat($T, $T, $T, $N)"/>
    </xsl:for-each>

    <xsl:for-each select="$article/Language">
      <xsl:call-template name="value">
        <xsl:with-param name="kind" select="'L'"/><xsl:with-param name="pos" select="$pos"/>
      </xsl:call-template>
    </xsl:for-each>
    <xsl:for-each select="$article/PublicationTypeList/*">
      <xsl:call-template name="value">
        <xsl:with-param name="kind" select="'P'"/><xsl:with-param name="pos" select="$pos"/>
      </xsl:call-template>
    </xsl:for-each>
    <xsl:for-each select="$citation/KeywordList/*">
      <xsl:call-template name="value">
        <xsl:with-param name="kind" select="'K'"/><xsl:with-param name="pos" select="$pos"/>
      </xsl:call-template>
    </xsl:for-each>

    <xsl:for-each select="$citation/MeshHeadingList/MeshHeading[DescriptorName/@UI]">
      <xsl:variable name="heading" select="position()"/>
      <xsl:for-each select="DescriptorName[1] | QualifierName">
        <xsl:value-of select="concat(substring('MQ', 1 + boolean(self::QualifierName), 1), $T, $pos, $T, $heading, $T)"/>
        <xsl:call-template name="text"><xsl:with-param name="of" select="@UI"/></xsl:call-template>
        <xsl:value-of select="$T"/>
        <xsl:call-template name="text"><xsl:with-param name="of" select="."/></xsl:call-template>
        <xsl:value-of select="concat($T, substring('NY', 1 + (@MajorTopicYN = 'Y'), 1), $T, position(), $T, $T, $N)"/>
      </xsl:for-each>
    </xsl:for-each>
  </xsl:template>

  <xsl:template name="value">
    <xsl:param name="kind"/>
    <xsl:param name="pos"/>
    <xsl:value-of select="concat($kind, $T, $pos, $T, position(), $T)"/>
    <xsl:call-template name="text"><xsl:with-param name="of" select="."/></xsl:call-template>
    <xsl:value-of select="concat($T, $T, $T, $T, $T, $N)"/>
  </xsl:template>
</xsl:stylesheet>
