// Curfew on Azure: one resource group holds the bot's identity, the Azure Bot with its Teams channel,
// an App Service for Linux running Curfew's container, PostgreSQL, logs and the config file share.
// Curfew's custom role is assigned on every workspace it manages (workspace-role.bicep), and its prices role
// on every subscription that holds one (subscription-role.bicep: Azure ML's vmSizes list is a subscription path).
// No password anywhere: Curfew signs in to PostgreSQL with a Microsoft Entra token of its managed identity.
//
//   az deployment group create -g rg-curfew -f infra/main.bicep -p @infra/main.parameters.json
//
// See docs/deploy.md for the whole walk-through. Compute choice: App Service, not Container Apps, because
// Curfew runs its scheduler inside the service and must never scale to zero (App Service's Always On),
// because App Service has a built-in health check on /healthz and an Azure Files mount for the config
// file, and because it is the host the Azure Bot documentation describes.

targetScope = 'resourceGroup'

@description('Azure region for everything but the bot (the bot is global).')
param location string = resourceGroup().location

@description('Lowercase letters and digits, 3 to 10 characters: the start of every resource name.')
@minLength(3)
@maxLength(10)
param namePrefix string = 'curfew'

@description('An existing Azure Container Registry in this resource group that holds Curfew\'s image.')
param containerRegistryName string

@description('The image in that registry, repository:tag, e.g. curfew:1.0.0 (az acr build --image ...).')
param containerImage string = 'curfew:latest'

@description('App Service plan size; B1 is enough for a few hundred instances. Every size here scales to 3 instances or more (Basic: 3).')
@allowed([
  'B1'
  'B2'
  'B3'
  'S1'
  'P0v3'
  'P1v3'
])
param appServiceSku string = 'B1'

@description('Replicas of Curfew (1 to 3: every allowed plan size scales that far; Basic stops at 3). The run ledger keeps every scheduled run exactly-once; two are enough for availability.')
@minValue(1)
@maxValue(3)
param instanceCount int = 1

@description('Azure Bot pricing tier. Teams is a standard channel: F0 has no message limit for it.')
@allowed([
  'F0'
  'S1'
])
param botSku string = 'F0'

@description('PostgreSQL compute size. Each replica\'s connection pool is sized from its connection limit (dbPoolSize below).')
@allowed([
  'Standard_B1ms'
  'Standard_B2s'
  'Standard_B2ms'
  'Standard_D2ds_v5'
  'Standard_D4ds_v5'
])
param postgresSkuName string = 'Standard_B1ms'

@description('Object id of the Microsoft Entra user or group that administers the database (the only admin: password sign-in is off). It runs infra/db-role.sql once (docs/deploy.md step 6).')
param postgresEntraAdminObjectId string

@description('Display name (user principal name for a user) of that admin, as it signs in to PostgreSQL.')
param postgresEntraAdminName string

@description('Whether the database admin is a User or a Group.')
@allowed([
  'User'
  'Group'
])
param postgresEntraAdminType string = 'Group'

@description('Private access: a virtual network with the web app integrated into one subnet and PostgreSQL in a delegated one, no public endpoint. Off: public endpoint reachable from Azure services, Entra tokens only.')
param privateNetworking bool = false

@description('Address space of that virtual network (a /24 or larger): the app subnet takes the first /26, PostgreSQL the second.')
param vnetAddressPrefix string = '10.42.0.0/24'

@description('Curfew\'s custom role: the GUID, or the full role definition id, from `az role definition create --role-definition infra/role-curfew.json`.')
param curfewRoleDefinitionId string

@description('Curfew\'s prices role: the GUID, or the full role definition id, from `az role definition create --role-definition infra/role-curfew-prices.json`.')
param curfewPricesRoleDefinitionId string

@description('Resource ids of the Azure ML workspaces Curfew manages: /subscriptions/{s}/resourceGroups/{g}/providers/Microsoft.MachineLearningServices/workspaces/{name}.')
param workspaceResourceIds array = []

@description('Days Log Analytics keeps Curfew\'s logs.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 30

var suffix = uniqueString(resourceGroup().id)
var databaseName = 'curfew'
var configMountPath = '/mnt/curfew'
var acrPullRoleGuid = '7f951dda-4ed3-4680-a7ca-43fe172d538d' // built-in AcrPull
var curfewRoleGuid = last(split(curfewRoleDefinitionId, '/'))
var curfewPricesRoleGuid = last(split(curfewPricesRoleDefinitionId, '/'))
var workspaceSubscriptions = union(map(workspaceResourceIds, id => split(id, '/')[2]), [])

// Capacity. Maximum user connections per PostgreSQL size (Azure's published limits, after the 15 it reserves).
// Every replica, plus one command-line process (doctor, db upgrade) and 5 for an admin's psql, must fit:
// pool = (user connections - 5) / (replicas + 1), at most 20. B1ms with 3 replicas: (35 - 5) / 4 = 7 each.
var postgresUserConnections = {
  Standard_B1ms: 35
  Standard_B2s: 414
  Standard_B2ms: 844
  Standard_D2ds_v5: 844
  Standard_D4ds_v5: 1703
}
var dbPoolSize = min(20, (postgresUserConnections[postgresSkuName] - 5) / (instanceCount + 1))
var postgresTier = startsWith(postgresSkuName, 'Standard_B') ? 'Burstable' : 'GeneralPurpose'
var postgresServerName = '${namePrefix}-pg-${suffix}'
// The database role of Curfew's identity: infra/db-role.sql creates it with this name.
var databaseRole = identity.name

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: '${namePrefix}-identity'
  location: location
}

// -- logs --------------------------------------------------------------------------------------

resource logs 'Microsoft.OperationalInsights/workspaces@2022-10-01' = {
  name: '${namePrefix}-logs-${suffix}'
  location: location
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: logRetentionDays
  }
}

resource insights 'Microsoft.Insights/components@2020-02-02' = {
  name: '${namePrefix}-insights-${suffix}'
  location: location
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: logs.id
    IngestionMode: 'LogAnalytics'
  }
}

// -- private network (optional) ----------------------------------------------------------------

resource vnet 'Microsoft.Network/virtualNetworks@2023-11-01' = if (privateNetworking) {
  name: '${namePrefix}-vnet'
  location: location
  properties: {
    addressSpace: {
      addressPrefixes: [
        vnetAddressPrefix
      ]
    }
    subnets: [
      {
        name: 'app'
        properties: {
          addressPrefix: cidrSubnet(vnetAddressPrefix, 26, 0)
          delegations: [
            {
              name: 'web'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'postgres'
        properties: {
          addressPrefix: cidrSubnet(vnetAddressPrefix, 26, 1)
          delegations: [
            {
              name: 'postgres'
              properties: {
                serviceName: 'Microsoft.DBforPostgreSQL/flexibleServers'
              }
            }
          ]
        }
      }
    ]
  }
}

resource postgresDns 'Microsoft.Network/privateDnsZones@2020-06-01' = if (privateNetworking) {
  name: '${postgresServerName}.private.postgres.database.azure.com'
  location: 'global'
}

resource postgresDnsLink 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2020-06-01' = if (privateNetworking) {
  parent: postgresDns
  name: 'curfew-vnet'
  location: 'global'
  properties: {
    registrationEnabled: false
    virtualNetwork: {
      id: vnet.id
    }
  }
}

// -- database ----------------------------------------------------------------------------------

resource postgres 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: postgresServerName
  location: location
  sku: {
    name: postgresSkuName
    tier: postgresTier
  }
  properties: {
    version: '16'
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: subscription().tenantId
    }
    storage: {
      storageSizeGB: 32
      autoGrow: 'Enabled'
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: privateNetworking
      ? {
          publicNetworkAccess: 'Disabled'
          delegatedSubnetResourceId: vnet.properties.subnets[1].id
          privateDnsZoneArmResourceId: postgresDns.id
        }
      : {
          publicNetworkAccess: 'Enabled'
        }
  }
  dependsOn: [
    postgresDnsLink
  ]
}

// The only administrator: a person or group of yours, who creates Curfew's role (infra/db-role.sql).
resource postgresAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: postgres
  name: postgresEntraAdminObjectId
  properties: {
    principalType: postgresEntraAdminType
    principalName: postgresEntraAdminName
    tenantId: subscription().tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: postgres
  name: databaseName
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

// Public endpoint only: lets Azure services (the App Service) connect. Any Azure-hosted client can reach the
// port, but sign-in takes a Microsoft Entra token of a role in this server (password sign-in is off).
// privateNetworking: true removes the public endpoint and this rule.
resource postgresFromAzure 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (!privateNetworking) {
  parent: postgres
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: {
    startIpAddress: '0.0.0.0'
    endIpAddress: '0.0.0.0'
  }
}

// -- the config file: an Azure Files share mounted into the container ---------------------------

resource configStorage 'Microsoft.Storage/storageAccounts@2023-01-01' = {
  name: take('${toLower(namePrefix)}cfg${suffix}', 24)
  location: location
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
  }
}

resource configFiles 'Microsoft.Storage/storageAccounts/fileServices@2023-01-01' = {
  parent: configStorage
  name: 'default'
}

resource configShare 'Microsoft.Storage/storageAccounts/fileServices/shares@2023-01-01' = {
  parent: configFiles
  name: 'curfew-config'
  properties: {
    shareQuota: 1
  }
}

// -- the service -------------------------------------------------------------------------------

resource registry 'Microsoft.ContainerRegistry/registries@2023-07-01' existing = {
  name: containerRegistryName
}

resource identityPullsImages 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(registry.id, identity.id, acrPullRoleGuid)
  scope: registry
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', acrPullRoleGuid)
    principalId: identity.properties.principalId
    principalType: 'ServicePrincipal'
  }
}

resource plan 'Microsoft.Web/serverfarms@2023-01-01' = {
  name: '${namePrefix}-plan'
  location: location
  kind: 'linux'
  sku: {
    name: appServiceSku
    capacity: instanceCount
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2023-01-01' = {
  name: '${namePrefix}-${suffix}'
  location: location
  kind: 'app,linux,container'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identity.id}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: privateNetworking ? vnet.properties.subnets[0].id : null
    vnetRouteAllEnabled: privateNetworking
    siteConfig: {
      linuxFxVersion: 'DOCKER|${registry.properties.loginServer}/${containerImage}'
      acrUseManagedIdentityCreds: true
      acrUserManagedIdentityID: identity.properties.clientId
      alwaysOn: true
      healthCheckPath: '/healthz'
      http20Enabled: true
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      azureStorageAccounts: {
        'curfew-config': {
          type: 'AzureFiles'
          accountName: configStorage.name
          shareName: configShare.name
          mountPath: configMountPath
          accessKey: configStorage.listKeys().keys[0].value
        }
      }
      appSettings: [
        {
          name: 'WEBSITES_PORT'
          value: '3978'
        }
        {
          name: 'WEBSITES_ENABLE_APP_SERVICE_STORAGE'
          value: 'false'
        }
        {
          name: 'MicrosoftAppId'
          value: identity.properties.clientId
        }
        {
          name: 'MicrosoftAppType'
          value: 'UserAssignedMSI'
        }
        {
          name: 'MicrosoftAppTenantId'
          value: identity.properties.tenantId
        }
        {
          name: 'AZURE_CLIENT_ID'
          value: identity.properties.clientId
        }
        {
          // No password: Curfew signs in with an Entra token of AZURE_CLIENT_ID's identity (storage/entra.py).
          name: 'DATABASE_URL'
          value: 'postgresql+psycopg://${uriComponent(databaseRole)}@${postgres.properties.fullyQualifiedDomainName}:5432/${databaseName}?sslmode=require'
        }
        {
          // Connections each replica may hold, so that every replica plus one command line fit (dbPoolSize above).
          name: 'DATABASE_POOL_SIZE'
          value: string(dbPoolSize)
        }
        {
          name: 'CURFEW_CONFIG'
          value: '${configMountPath}/curfew.yaml'
        }
        {
          name: 'APPLICATIONINSIGHTS_CONNECTION_STRING'
          value: insights.properties.ConnectionString
        }
        {
          name: 'LOG_FORMAT'
          value: 'json'
        }
      ]
    }
  }
  dependsOn: [
    identityPullsImages
    database
    postgresAdmin
    postgresFromAzure
  ]
}

resource siteLogs 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = {
  name: 'curfew-logs'
  scope: site
  properties: {
    workspaceId: logs.id
    logs: [
      {
        category: 'AppServiceConsoleLogs'
        enabled: true
      }
      {
        category: 'AppServiceHTTPLogs'
        enabled: true
      }
      {
        category: 'AppServicePlatformLogs'
        enabled: true
      }
    ]
  }
}

// -- the bot -----------------------------------------------------------------------------------

resource bot 'Microsoft.BotService/botServices@2022-09-15' = {
  name: '${namePrefix}-bot-${suffix}'
  location: 'global'
  kind: 'azurebot'
  sku: {
    name: botSku
  }
  properties: {
    displayName: 'Curfew'
    description: 'Stops forgotten Azure ML compute instances at night; warns their owners first.'
    endpoint: 'https://${site.properties.defaultHostName}/api/messages'
    msaAppId: identity.properties.clientId
    msaAppType: 'UserAssignedMSI'
    msaAppMSIResourceId: identity.id
    msaAppTenantId: identity.properties.tenantId
  }
}

resource teamsChannel 'Microsoft.BotService/botServices/channels@2022-09-15' = {
  parent: bot
  name: 'MsTeamsChannel'
  location: 'global'
  properties: {
    channelName: 'MsTeamsChannel'
    properties: {
      isEnabled: true
      enableCalling: false
    }
  }
}

// -- Curfew's role on each workspace -----------------------------------------------------------

module workspaceRoles 'workspace-role.bicep' = [
  for workspaceId in workspaceResourceIds: {
    name: take('curfew-role-${uniqueString(workspaceId, resourceGroup().id)}', 64)
    scope: resourceGroup(split(workspaceId, '/')[2], split(workspaceId, '/')[4])
    params: {
      workspaceName: last(split(workspaceId, '/'))
      principalId: identity.properties.principalId
      roleDefinitionGuid: curfewRoleGuid
    }
  }
]

// -- Curfew's prices role on each subscription that holds a workspace -----------------------------

module subscriptionRoles 'subscription-role.bicep' = [
  for sub in workspaceSubscriptions: {
    name: take('curfew-prices-${uniqueString(sub, resourceGroup().id)}', 64)
    scope: subscription(sub)
    params: {
      principalId: identity.properties.principalId
      roleDefinitionGuid: curfewPricesRoleGuid
    }
  }
]

@description('The bot\'s Microsoft App ID: pass it to `python app.py manifest --app-id`.')
output botAppId string = identity.properties.clientId
output identityPrincipalId string = identity.properties.principalId
output webAppName string = site.name
output messagingEndpoint string = 'https://${site.properties.defaultHostName}/api/messages'
output botName string = bot.name
output postgresHost string = postgres.properties.fullyQualifiedDomainName
@description('Curfew\'s role in the database (infra/db-role.sql): the user name in DATABASE_URL.')
output databaseRole string = databaseRole
@description('Connections each replica may hold: the web app\'s DATABASE_POOL_SIZE setting.')
output databasePoolSize int = dbPoolSize
output configStorageAccount string = configStorage.name
output configShareName string = configShare.name
